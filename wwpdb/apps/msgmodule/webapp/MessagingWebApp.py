"""OneDep's `MessagingWebApp`, for sites whose own WSGI shim builds it from a parameter dictionary.

    rspD = MessagingWebApp(parameterDict=params, verbose=True, log=sys.stderr, siteId=siteId).doOp()
    response.content_type = rspD["CONTENT_TYPE"]; response.text = rspD["RETURN_STRING"]

`parameterDict` is what OneDep's shim makes of a WebOb request: each name with
a list of values (uploaded files as objects with `filename` and `file`), and
`request_path`. The answer is the same as `wsgi.application` gives; OneDep's
reply dictionary has no HTTP status, so `STATUS` is added for shims that want it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from .request import Params
from .service import MessagingWebService


class MessagingWebApp:
    """One request, answered by `doOp()` as OneDep's class answers it."""

    def __init__(
        self,
        parameterDict: Mapping[str, Any] | None = None,  # noqa: N803 - OneDep's parameter names
        verbose: bool = False,
        log: TextIO | None = sys.stderr,
        siteId: str | None = None,  # noqa: N803
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self._params = Params.from_parameter_dict(parameterDict or {})
        self._service = MessagingWebService(config=config, site_id=siteId, verbose=verbose, log=log)

    def doOp(self) -> dict[str, Any]:  # noqa: N802 - OneDep's method name
        """{"CONTENT_TYPE", "RETURN_STRING", "STATUS"} for the request's `request_path`."""
        reply = self._service.handle(self._params.getValue("request_path").lower(), self._params)
        return {"CONTENT_TYPE": reply.content_type, "RETURN_STRING": reply.body, "STATUS": reply.status}
