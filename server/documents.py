"""What the gateway remembers about GraphQL documents, shared by every request.

Three caches, each bounded by `document_cache_size`, least recently used first out:
the parsed and validated document (the executor's, by text), its demand shape and
cost plan (by document and operation: what demand control needs that no variable
changes), and the kinds of its operations (by text, read before
validation: whether a GET asks for a mutation). Only authenticated requests reach
them (`server/access.py`), so anonymous callers cannot fill them.
"""

from __future__ import annotations

from cachetools import LRUCache
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from schema import demand
from schema.executor import Executor, Prepared


class DocumentCache:
    def __init__(self, executor: Executor, size: int) -> None:
        self.executor = executor
        self._demands: LRUCache[tuple[int, str | None], tuple[Prepared, demand.Shape, demand.CostPlan]] = LRUCache(
            maxsize=size
        )
        self._kinds: LRUCache[str, dict[str | None, OperationType]] = LRUCache(maxsize=size)

    def prepare(self, query: str) -> Prepared:
        """The document parsed and validated (or its errors), cached by text."""
        return self.executor.prepare(query)

    def demand(self, prepared: Prepared, operation_name: str | None) -> tuple[demand.Shape, demand.CostPlan]:
        """The operation's shape and cost plan, worked out once per document and operation."""
        key = (id(prepared), operation_name)
        cached = self._demands.get(key)
        if cached is None or cached[0] is not prepared:
            document, operation = prepared.document, prepared.operation(operation_name)
            if document is None or operation is None:  # the pipeline answers both before asking
                raise ValueError("the demand of a document that did not validate, or of an operation it lacks")
            plan = demand.CostPlan(self.executor.schema, document, operation)
            cached = self._demands[key] = (prepared, demand.measure(document, operation), plan)
        return cached[1], cached[2]

    def is_mutation(self, query: str, operation_name: str | None) -> bool:
        """Whether the operation to run is not a query (checked before validation: the schema has no mutations)."""
        kinds = self._kinds.get(query)
        if kinds is None:
            try:
                document = parse(query)
            except GraphQLError:
                return False  # the run reports the parse error
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            kinds = {o.name.value if o.name else None: o.operation for o in operations}
            if len(operations) == 1:
                kinds[None] = operations[0].operation
            self._kinds[query] = kinds
        kind = kinds.get(operation_name)
        return kind is not None and kind is not OperationType.QUERY
