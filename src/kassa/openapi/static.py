"""The parts of the document that do not come from the registry: OAuth, JWKS, callbacks,
the JSON:API envelope schemas, the error documents and the security schemes."""

from __future__ import annotations

from kassa.jsonapi.errors import TITLES
from kassa.openapi.schemas import Schema, ref
from kassa.payments.async_completion import PATH as CALLBACK_PATH
from kassa.payments.callouts import SIGNATURE_HEADER

JSONAPI = "application/vnd.api+json"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

ERROR_CODES = sorted(
    {
        *TITLES,
        "BAD_REQUEST",
        "FILTER_NOT_ALLOWED",
        "INVALID_DATA_FORMAT",
        "INVALID_FIELD",
        "INVALID_FIELD_VALUE",
        "INVALID_FILTERS_SYNTAX",
        "INVALID_FILTER_VALUE",
        "INVALID_INCLUDE",
        "INVALID_LINKS_OBJECT",
        "INVALID_PAGE_OBJECT",
        "INVALID_PAGE_VALUE",
        "INVALID_RESOURCE",
        "INVALID_SORT_CRITERIA",
        "KEY_NOT_INCLUDED_IN_URL",
        "PARAM_MISSING",
        "PARAM_NOT_ALLOWED",
        "TYPE_MISMATCH",
        "VALIDATION_ERROR",
    }
)
"""The ``code`` values of error objects. A code the server sends that is missing here is a
document bug (a test scans the sources for them)."""
_STATUS_TEXT = {
    400: "Bad request: a malformed query string or document",
    401: "No valid token, or the token may not do this",
    404: "No such resource, or not visible to this token",
    406: "The Accept header excludes JSON:API",
    409: "Conflicts with an existing record",
    413: "The request body is too large",
    415: "The request body is not JSON:API",
    422: "The document is well formed but its values are not acceptable",
    423: "The resource is locked (other records depend on it, or it is being processed)",
    429: "Rate limit exceeded",
}


def _json_body(schema: Schema, *types: str) -> Schema:
    return {t: {"schema": schema} for t in types}


def schemas() -> Schema:
    string: Schema = {"type": "string"}
    return {
        "ErrorObject": {
            "type": "object",
            "required": ["title", "detail", "code", "status"],
            "properties": {
                "title": string,
                "detail": string,
                "code": {"type": "string", "examples": ERROR_CODES},
                "status": {"type": "string", "pattern": "^[45][0-9]{2}$"},
                "source": {"type": "object", "properties": {"pointer": string}},
                "meta": {"type": "object"},
            },
        },
        "ErrorDocument": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {"type": "array", "minItems": 1, "items": ref("schemas", "ErrorObject")}
            },
        },
        "OAuthErrorDocument": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["code", "title", "detail", "status"],
                        "properties": {
                            "code": string,
                            "title": string,
                            "detail": string,
                            "status": {"type": "integer"},
                        },
                    },
                }
            },
        },
        "SelfLink": {
            "type": "object",
            "required": ["self"],
            "properties": {"self": {"type": "string", "format": "uri"}},
        },
        "RelationshipLinks": {
            "type": "object",
            "required": ["self", "related"],
            "properties": {"self": string, "related": string},
        },
        "PageLinks": {
            "type": "object",
            "required": ["first", "last"],
            "properties": {k: string for k in ("first", "prev", "next", "last")},
            "additionalProperties": False,
        },
        "ListMeta": {
            "type": "object",
            "required": ["record_count", "page_count"],
            "properties": {
                "record_count": {"type": "integer", "minimum": 0},
                "page_count": {"type": "integer", "minimum": 0},
            },
        },
        "ResourceMeta": {
            "type": "object",
            "required": ["mode", "organization_id"],
            "properties": {
                "mode": {"enum": ["test", "live"]},
                "organization_id": string,
                "kassa_last_payment_error": {
                    "type": "object",
                    "x-kassa": True,
                    "description": "On an order, in the response of the request (`_place`, "
                    "`_authorize`, `_capture`…) whose gateway callout did not succeed: the "
                    "action, the transaction's `error_code` and message, and the failed "
                    "transaction. Absent otherwise.",
                    "required": ["action", "code", "message", "transaction"],
                    "properties": {
                        "action": {"enum": ["authorize", "capture", "void", "refund"]},
                        "code": string,
                        "message": string,
                        "transaction": {
                            "type": "object",
                            "required": ["type", "id"],
                            "properties": {
                                "type": {
                                    "enum": ["authorizations", "captures", "voids", "refunds"]
                                },
                                "id": string,
                            },
                        },
                    },
                },
            },
        },
        "ResourceObject": {
            "type": "object",
            "description": "Any resource object (the members of `included`).",
            "required": ["id", "type"],
            "properties": {
                "id": string,
                "type": string,
                "links": ref("schemas", "SelfLink"),
                "attributes": {"type": "object"},
                "relationships": {"type": "object"},
                "meta": ref("schemas", "ResourceMeta"),
            },
        },
        "TokenRequest": {
            "type": "object",
            "required": ["grant_type", "client_id"],
            "properties": {
                "grant_type": {"enum": ["client_credentials", "password", "refresh_token"]},
                "client_id": string,
                "client_secret": string,
                "scope": {
                    "type": "string",
                    "description": "`market:code:<code>`, `market:id:<id>`, "
                    "`stock_location:code:<code>`…, space-separated.",
                },
                "username": string,
                "password": string,
                "refresh_token": string,
            },
        },
        "TokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "created_at"],
            "properties": {
                "access_token": string,
                "token_type": {"const": "bearer"},
                "expires_in": {"type": "integer"},
                "scope": string,
                "created_at": {"type": "integer"},
                "refresh_token": string,
                "owner_id": string,
                "owner_type": {"const": "customer"},
            },
        },
        "RevokeRequest": {
            "type": "object",
            "required": ["client_id", "token"],
            "properties": {"client_id": string, "client_secret": string, "token": string},
        },
    }


def responses() -> Schema:
    out: Schema = {}
    for status, text in _STATUS_TEXT.items():
        out[f"Error{status}"] = {
            "description": text,
            "content": {JSONAPI: {"schema": ref("schemas", "ErrorDocument")}},
        }
    return out


def security_schemes() -> Schema:
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from `POST /oauth/token`.",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Integration applications use client credentials; sales channels "
            "client credentials (guests, no secret) or the password grant (customers).",
            "flows": {
                "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
                "password": {"tokenUrl": "/oauth/token", "scopes": {}},
            },
        },
    }


def _oauth_errors(*statuses: int) -> Schema:
    return {
        str(s): {
            "description": "OAuth error",
            "content": {JSON: {"schema": ref("schemas", "OAuthErrorDocument")}},
        }
        for s in statuses
    }


def paths() -> Schema:
    plain_json = {"schema": {"type": "object"}}
    callback_path = CALLBACK_PATH
    return {
        "/oauth/token": {
            "post": {
                "operationId": "create_token",
                "summary": "Get an access token",
                "tags": ["oauth"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": _json_body(ref("schemas", "TokenRequest"), JSON, FORM),
                },
                "responses": {
                    "200": {
                        "description": "A token",
                        "content": {JSON: {"schema": ref("schemas", "TokenResponse")}},
                    },
                    **_oauth_errors(400, 401, 429),
                    "413": ref("responses", "Error413"),
                },
            }
        },
        "/oauth/revoke": {
            "post": {
                "operationId": "revoke_token",
                "summary": "Revoke an access or refresh token (RFC 7009)",
                "tags": ["oauth"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": _json_body(ref("schemas", "RevokeRequest"), JSON, FORM),
                },
                "responses": {
                    "200": {
                        "description": "Revoked (or nothing to revoke)",
                        "content": {JSON: plain_json},
                    },
                    **_oauth_errors(400, 401),
                    "413": ref("responses", "Error413"),
                },
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "operationId": "jwks",
                "summary": "The public keys that verify access tokens",
                "tags": ["oauth"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "A JSON Web Key Set",
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["keys"],
                                    "properties": {
                                        "keys": {"type": "array", "items": {"type": "object"}}
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": {"description": "Serving", "content": {JSON: plain_json}}},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: plain_json}}},
            }
        },
        callback_path: {
            "post": {
                "operationId": "external_gateway_callback",
                "summary": "Asynchronous completion of an external gateway transaction",
                "description": f"Signed by the gateway with its shared secret in "
                f"`{SIGNATURE_HEADER}`.",
                "tags": ["external_gateways"],
                "security": [],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": SIGNATURE_HEADER,
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["success"],
                                "properties": {
                                    "success": {"type": "boolean"},
                                    "data": {
                                        "type": "object",
                                        "properties": {"action_id": {"type": "string"}},
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Applied", "content": {JSON: plain_json}},
                    **{
                        str(s): ref("responses", f"Error{s}")
                        for s in (400, 401, 404, 409, 413, 422, 423)
                    },
                },
            }
        },
    }
