import json
import re

from kgtest import ROOT
from grader.models import Report, Status


def test_documented_schema_matches_the_code():
    text = (ROOT / "docs" / "report-schema.md").read_text()
    documented = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))
    assert documented == json.loads(json.dumps(Report.model_json_schema())), \
        "docs/report-schema.md is stale: regenerate its JSON Schema block from Report.model_json_schema()"


def test_every_status_is_documented():
    text = (ROOT / "docs" / "report-schema.md").read_text()
    for status in Status:
        assert f"`{status.value}`" in text
