"""A Google Sheets v4 client: service-account JWT (google-auth) for a token, REST over httpx."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from google.auth import crypt, jwt
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.settings import validators
from foredeck.settings.schemas import FieldError, SheetsSettings, ValidationResult

SCOPE = "https://www.googleapis.com/auth/spreadsheets"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Rows per request when a whole tab is read or written in pieces.
CHUNK_ROWS = 5000


class SheetsError(Exception):
    """A Sheets or token call that failed; the message is safe to show."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def quote_tab(title: str) -> str:
    """A tab title in A1 notation ('My tab' needs quotes, quotes inside are doubled)."""
    return "'" + title.replace("'", "''") + "'"


class SheetsClient:
    def __init__(
        self,
        service_account: dict[str, Any],
        *,
        api_base_url: str,
        token_url: str,
        timeout_s: float = 30.0,
    ) -> None:
        self._info = service_account
        self._signer = crypt.RSASigner.from_service_account_info(service_account)
        self._base = api_base_url.rstrip("/")
        self._token_url = token_url
        self._token: str | None = None
        self._token_expiry = 0.0
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    @classmethod
    def from_settings(cls, service_account: dict[str, Any], sheets: SheetsSettings) -> SheetsClient:
        return cls(
            service_account,
            api_base_url=sheets.api_base_url,
            token_url=sheets.token_url,
            timeout_s=sheets.timeout_s,
        )

    async def __aenter__(self) -> SheetsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _access_token(self) -> str:
        if self._token and time.time() < self._token_expiry - 60:
            return self._token
        now = int(time.time())
        assertion = jwt.encode(
            self._signer,
            {
                "iss": self._info["client_email"],
                "scope": SCOPE,
                "aud": self._token_url,
                "iat": now,
                "exp": now + 3600,
            },
        )
        try:
            resp = await self._http.post(
                self._token_url,
                data={"grant_type": JWT_GRANT, "assertion": assertion.decode("ascii")},
            )
        except httpx.HTTPError as exc:
            raise SheetsError(f"the token endpoint is unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise SheetsError(
                f"the token endpoint refused the service account ({resp.status_code})",
                resp.status_code,
            )
        body = resp.json()
        token = body.get("access_token")
        if not token:
            raise SheetsError("the token endpoint returned no access token")
        self._token = str(token)
        self._token_expiry = time.time() + float(body.get("expires_in", 3600))
        return self._token

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        token = await self._access_token()
        try:
            resp = await self._http.request(
                method,
                f"{self._base}{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise SheetsError(f"the Sheets API is unreachable: {exc}") from exc
        if resp.status_code == 404:
            raise SheetsError("spreadsheet or range not found", 404)
        if resp.status_code in (401, 403):
            raise SheetsError(
                "the service account may not access this spreadsheet (share it with "
                f"{self._info.get('client_email')})",
                resp.status_code,
            )
        if resp.status_code >= 400:
            raise SheetsError(f"the Sheets API answered {resp.status_code}", resp.status_code)
        data = resp.json() if resp.content else {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _values_path(spreadsheet_id: str, a1: str, suffix: str = "") -> str:
        return f"/v4/spreadsheets/{quote(spreadsheet_id)}/values/{quote(a1, safe='')}{suffix}"

    async def get_metadata(self, spreadsheet_id: str) -> dict[str, Any]:
        """Title and tabs of a spreadsheet."""
        return await self._call(
            "GET",
            f"/v4/spreadsheets/{quote(spreadsheet_id)}",
            params={"fields": "spreadsheetId,properties.title,sheets.properties"},
        )

    async def get_values(self, spreadsheet_id: str, a1: str) -> list[list[Any]]:
        """The cell values of a range, row by row (trailing empty cells omitted by the API)."""
        data = await self._call(
            "GET",
            self._values_path(spreadsheet_id, a1),
            params={"majorDimension": "ROWS", "valueRenderOption": "UNFORMATTED_VALUE"},
        )
        values = data.get("values", [])
        return values if isinstance(values, list) else []

    async def iter_rows(self, spreadsheet_id: str, a1: str) -> Any:
        """Rows of a range; a bare tab name is read in chunks so memory stays bounded."""
        if "!" in a1:
            for row in await self.get_values(spreadsheet_id, a1):
                yield row
            return
        tab = quote_tab(a1.strip("'"))
        start = 1
        while True:
            chunk = await self.get_values(spreadsheet_id, f"{tab}!{start}:{start + CHUNK_ROWS - 1}")
            for row in chunk:
                yield row
            if len(chunk) < CHUNK_ROWS:
                return
            start += CHUNK_ROWS

    async def clear(self, spreadsheet_id: str, a1: str) -> None:
        await self._call("POST", self._values_path(spreadsheet_id, a1, ":clear"), json={})

    async def update(self, spreadsheet_id: str, a1: str, values: list[list[Any]]) -> None:
        await self._call(
            "PUT",
            self._values_path(spreadsheet_id, a1),
            params={"valueInputOption": "RAW"},
            json={"range": a1, "majorDimension": "ROWS", "values": values},
        )

    async def append(self, spreadsheet_id: str, a1: str, values: list[list[Any]]) -> None:
        await self._call(
            "POST",
            self._values_path(spreadsheet_id, a1, ":append"),
            params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
            json={"range": a1, "majorDimension": "ROWS", "values": values},
        )


async def check_settings(
    session: AsyncSession, value: SheetsSettings, config: Config, remote: bool
) -> ValidationResult:
    """The `sheets` settings section: credentials stored, and (remote) every sheet and tab there."""
    if not value.sheets:
        return ValidationResult(valid=True)
    info, problem = await validators.stored_credentials(session, config)
    if info is None:
        return validators.fail("sheets", problem or "credentials missing")
    if not remote:
        return ValidationResult(valid=True)
    errors: list[FieldError] = []
    titles: dict[str, Any] = {}
    async with SheetsClient.from_settings(info, value) as client:
        for i, ref in enumerate(value.sheets):
            try:
                meta = await client.get_metadata(ref.spreadsheet_id)
            except SheetsError as exc:
                errors.append(FieldError(field=f"sheets.{i}.spreadsheet_id", message=str(exc)))
                continue
            tab = ref.range.split("!", 1)[0].strip("'") if ref.range else ""
            tabs = [s.get("properties", {}).get("title") for s in meta.get("sheets", [])]
            if tab and tabs and tab not in tabs:
                errors.append(
                    FieldError(
                        field=f"sheets.{i}.range",
                        message=f"no tab named {tab!r}; the spreadsheet has {', '.join(tabs)}",
                    )
                )
            titles[ref.name] = meta.get("properties", {}).get("title")
    return ValidationResult(valid=not errors, errors=errors, info={"titles": titles})


validators.register_check(SheetsSettings, check_settings)
