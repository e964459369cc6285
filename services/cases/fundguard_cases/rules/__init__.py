"""Legal rules of case handling as plain functions: numbers (`legal`), sanctions (`sanctions`),
procedural predicates and deadlines (`procedure`). No Flask, no database."""
