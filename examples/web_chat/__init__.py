"""A streaming chat page on Starlette: see README.md in this folder."""
