"""What a backend receives for a read: the path and query the source asked for, nothing lost in encoding."""

from __future__ import annotations

import httpx

from sources.http import BackendClient


async def test_a_batch_of_keys_reaches_the_backend_as_one_parameter_with_its_commas_as_they_are():
    seen: list[httpx.URL] = []

    def backend(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"items": []})

    client = BackendClient("ERP", "http://erp.invalid/api", transport="httpx")
    client._client = httpx.AsyncClient(base_url=client.base_url, transport=httpx.MockTransport(backend))
    keys = ["P-1", "P 2", "P/3", "P&4=é"]
    await client.get("stock", "/stock", {"skus": ",".join(keys), "on": "2026-11-30"})
    (url,) = seen
    assert url.path == "/api/stock"
    assert url.params["skus"].split(",") == keys and url.params["on"] == "2026-11-30"
    assert b"skus=P-1,P+2,P%2F3,P%264%3D%C3%A9&on=2026-11-30" in url.raw_path  # only the separators raw
    await client.aclose()
