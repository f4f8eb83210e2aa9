"""Scheduler and operator pages: day view, booking form, my conferences, confirmation queue."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
