"""Property: whatever field names and values a browser sends, the capture endpoint never 500s."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_form

CAPTURE = "/api/v1/forms/funnel-ebook/submissions"
names = st.one_of(
    st.sampled_from(
        [
            "email",
            "first_name",
            "company",
            "utm_source",
            "company_size",
            "_ln_vid",
            "website_url",
            "timezone",
            "phone",
        ]
    ),
    st.text(min_size=1, max_size=120),
)
values = st.one_of(
    st.text(max_size=300),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.emails().map(str),
)


def test_arbitrary_json_fields_never_cause_a_server_error(client: TestClient, anon: TestClient) -> None:
    make_form(client)

    @given(body=st.dictionaries(names, values, max_size=12))
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def post(body: dict[str, object]) -> None:
        response = anon.post(CAPTURE, json=body)
        assert response.status_code in (201, 413, 422), response.text

    post()


def test_arbitrary_urlencoded_fields_never_cause_a_server_error(client: TestClient, anon: TestClient) -> None:
    make_form(client)

    @given(
        body=st.dictionaries(names.filter(lambda n: "\x00" not in n), st.text(max_size=300), min_size=1, max_size=12)
    )
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def post(body: dict[str, str]) -> None:
        response = anon.post(CAPTURE, data=body)
        assert response.status_code in (303, 413, 422), response.text

    post()
