"""Who may see what: the Casbin model and policy, approval rules, and the code that enforces them."""

from policies.enforcement import ROLES, Authorizer, matrix

__all__ = ["ROLES", "Authorizer", "matrix"]
