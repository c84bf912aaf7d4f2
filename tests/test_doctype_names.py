"""The two lists of document types agree: the values the documents table holds
(``crm.models.documents.DOC_TYPE_NAMES``, the models know no services) and the types the
services know the rules of (``crm.services.doctypes.DOC_TYPES``)."""
import pytest

from crm.models.documents import DOC_TYPE_NAMES
from crm.services.doctypes import DOC_TYPES

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite


def test_every_document_type_has_its_rules_and_no_more():
    assert tuple(DOC_TYPES) == DOC_TYPE_NAMES
    assert all(kind.name == name for name, kind in DOC_TYPES.items())
