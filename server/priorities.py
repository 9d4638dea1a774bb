"""Which priority class a request's backend calls queue in (`[budgets]` in the settings).

The systems of record serve people in front of a customer first: a quote or the 360 page
is `interactive`, worklists `worklist`, BI exports and bulk reads `batch`
(sources/admission.py orders the queues). The first rule that names the request wins:

1. its trusted document (`documents`, by `sha256:<hash>`): a reviewed report is batch
   however it is sent;
2. its operation's name (`operations`);
3. `_entities` among its root fields, when `entities` is set: a router's bulk look-ups;
4. its caller's roles (`roles`; several: the most urgent class among them);
5. `default_class`.

BI exports (`/bi/...`) are `bi_exports` whatever else they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import FieldNode, OperationDefinitionNode

from server.settings import BudgetsSettings
from sources.admission import CLASSES


def class_of(
    settings: BudgetsSettings,
    *,
    operation: OperationDefinitionNode | None,
    document_id: str | None,
    roles: Iterable[str],
) -> str:
    if document_id is not None and document_id in settings.documents:
        return settings.documents[document_id]
    name = operation.name.value if operation is not None and operation.name else None
    if name is not None and name in settings.operations:
        return settings.operations[name]
    if settings.entities is not None and operation is not None and _selects_entities(operation):
        return settings.entities
    by_role = [settings.roles[role] for role in roles if role in settings.roles]
    if by_role:
        return min(by_role, key=CLASSES.index)
    return settings.default_class


def _selects_entities(operation: OperationDefinitionNode) -> bool:
    return any(
        isinstance(selection, FieldNode) and selection.name.value == "_entities"
        for selection in operation.selection_set.selections
    )
