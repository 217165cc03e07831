"""The files ``taskgen schema`` writes: a JSON Schema pair per task and the AsyncAPI document."""

from __future__ import annotations

from pathlib import Path

from taskgen_codegen.contract.model import ContractModel
from taskgen_codegen.generate.files import OutputFile
from taskgen_codegen.schema.asyncapi import asyncapi
from taskgen_codegen.schema.jsonschema import render_json, task_schemas
from taskgen_codegen.schema.live import live_tasks


def schema_files(
    model: ContractModel, contracts: Path, out: Path, version: str
) -> list[OutputFile]:
    """Every schema document of a loaded contract, in memory."""
    documents = task_schemas(live_tasks(model, contracts))
    documents["asyncapi.json"] = asyncapi(model, version)
    return [OutputFile(out, name, render_json(doc)) for name, doc in sorted(documents.items())]
