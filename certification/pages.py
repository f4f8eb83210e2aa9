"""The certification package's server-rendered pages: thin handlers over its service."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
