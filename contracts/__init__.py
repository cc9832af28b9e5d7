"""Contracts: the schemas that define both sides of the wire, OpenAPI, verifiers, pytest plugin."""
