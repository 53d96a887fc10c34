"""``POST /auth``: check a registry's credentials, as docker's daemon does; the client
keeps them (the docker CLI writes its own config.json), so nothing is stored here."""

from __future__ import annotations

from ..engine.api import LoginRequest
from .context import Context
from .http import Reply, Request, json_reply
from .jsondoc import Doc
from .routes import route


async def auth(ctx: Context, req: Request) -> Reply:
    body = Doc(await req.json(required=True))
    login = LoginRequest(body.text("serveraddress"), body.text("username"),
                         body.text("password"))
    await ctx.call_slow(ctx.engine.check_login, login)
    return json_reply({"Status": "Login Succeeded", "IdentityToken": ""})


ROUTES = [route("POST", "/auth", auth)]
