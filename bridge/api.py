"""The bridge package's JSON API under /api/v1: thin handlers over its service."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["bridge"])

# -- probe routes --

# -- leg and call record routes --
