"""The hot path: an in-process index in front of the LanceDB store (see DESIGN.md).

Importing this package is cheap; tantivy and usearch load when an index is built.
"""
