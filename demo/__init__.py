"""Simulated systems of record (CRM, ERP, CLM, DESK) behind Isthmus; the contract is docs/demo-systems.md."""

from pathlib import Path

WEB = Path(__file__).resolve().parent / "web"  # the example front-ends `isthmus demo` serves under /app/
