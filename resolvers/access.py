"""Row-level rules: which customers the caller sees, on every path that reaches one.

A sales rep sees the customers they own, a manager those of their team, the other
roles all of them (the scope comes from the policy). Lists push the rule down to
the CRM as a filter, so pages stay full and counts right; a customer reached any
other way (by id, through an order, a contract, a ticket, a quote) is checked
here. A customer outside the scope and one that does not exist look the same to
a restricted caller: FORBIDDEN, no hint either way.
"""

from __future__ import annotations

from resolvers.context import Context, Principal
from resolvers.errors import GatewayError
from sources.records import Customer


class Forbidden(GatewayError):
    code = "FORBIDDEN"
    when = (
        "a restricted field the caller's roles may not read, or a customer (or its order, contract) outside the "
        "caller's scope"
    )

    @classmethod
    def to_read(cls, coordinate: str) -> Forbidden:
        """The refusal of a restricted `Type.field`: the same words whichever executor refuses it."""
        return cls(f"Not authorised to read {coordinate}.")

    @classmethod
    def to_write(cls, mutation: str) -> Forbidden:
        """The refusal of a `Mutation.<name>` the policy does not let the caller write."""
        return cls(f"Not authorised to run {mutation}.")


def search_filters(ctx: Context, owner_id: str | None) -> tuple[list[str] | None, str | None]:
    """(owners, team) to send with a customer search: the caller's scope AND the asked owner."""
    scope = ctx.scope
    if scope == "all":
        return ([owner_id] if owner_id else None), None
    if scope == "team" and ctx.principal.team:
        return ([owner_id] if owner_id else None), ctx.principal.team
    if scope == "own" and (owner_id is None or owner_id == ctx.principal.id):
        return [ctx.principal.id], None
    return [], None  # an empty owner list matches no customer


async def is_visible(ctx: Context, customer: Customer) -> bool:
    return sees(ctx.scope, ctx.principal, customer)


def sees(scope: str | None, principal: Principal, customer: Customer) -> bool:
    """Whether a caller of this scope sees the customer (a subscriber is told of it: resolvers/live.py)."""
    if scope == "all":
        return True
    if scope == "own":
        return customer.owner_id == principal.id
    if scope == "team":
        # The team the CRM files the customer under: the same field its search filters on,
        # so a list and a look-up by id agree, and the check costs no call of its own.
        return customer.team is not None and customer.team == principal.team
    return False


def not_visible(what: str) -> Forbidden:
    return Forbidden(f"Not authorised to see {what}.")


async def visible(ctx: Context, customer: Customer | None, what: str) -> Customer | None:
    """The customer if the caller may see it; FORBIDDEN otherwise (and for unknown ones when restricted)."""
    if customer is None:
        if ctx.scope == "all":
            return None
        raise not_visible(what)
    if not await is_visible(ctx, customer):
        raise not_visible(what)
    return customer
