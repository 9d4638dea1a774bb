"""Simulated systems of record (CRM, ERP, CLM, DESK) behind Isthmus; the contract is docs/demo-systems.md."""
