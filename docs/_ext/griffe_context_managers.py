"""A griffe extension for the docs build only: document ``@asynccontextmanager`` functions as what
they return.

``open_esl_runtime`` is written as an async generator decorated with ``asynccontextmanager``, so
its source annotation says ``-> AsyncIterator[EslRuntime]``, which is not how it is called. The
reference therefore renders it the way a user writes it:

* the return annotation becomes ``AbstractAsyncContextManager[EslRuntime]`` (what the decorator
  returns; the ``EslRuntime`` link is kept),
* and the docstring gains, after its summary line, the usage
  ``async with open_esl_runtime(config) as rt:`` built from the required parameters.
"""

from __future__ import annotations

from typing import Any

import griffe

_DECORATORS = frozenset({"asynccontextmanager", "contextlib.asynccontextmanager"})
_MANAGER = "AbstractAsyncContextManager"


def _is_async_context_manager(func: griffe.Function) -> bool:
    return any(str(d.value) in _DECORATORS for d in func.decorators)


def _usage(func: griffe.Function, target: str) -> str:
    """``async with f(a, b) as x:`` with the parameters a caller must give."""
    required = [
        p.name
        for p in func.parameters
        if p.default is None
        and p.kind
        in (griffe.ParameterKind.positional_only, griffe.ParameterKind.positional_or_keyword)
    ]
    return f"async with {func.name}({', '.join(required)}) as {target}:"


def _returns(func: griffe.Function) -> str | griffe.Expr | None:
    """``AsyncIterator[X]`` / ``AsyncGenerator[X, None]`` → ``AbstractAsyncContextManager[X]``."""
    returns = func.returns
    if not isinstance(returns, griffe.ExprSubscript):
        return returns
    yielded = returns.slice
    if isinstance(yielded, griffe.ExprTuple) and yielded.elements:
        yielded = yielded.elements[0]
    return griffe.ExprSubscript(griffe.ExprName(_MANAGER, parent=func), yielded)


def _with_usage(docstring: str, usage: str) -> str:
    summary, sep, rest = docstring.partition("\n\n")
    block = f"Use it as an async context manager:\n\n```python\n{usage}\n    ...\n```"
    return f"{summary}\n\n{block}{sep}{rest}"


class AsyncContextManagers(griffe.Extension):
    """Render ``@asynccontextmanager`` functions with their ``async with`` usage."""

    def __init__(self, targets: dict[str, str] | None = None) -> None:
        super().__init__()
        #: Function name → the ``as`` name its usage shows (default: ``cm``).
        self._targets = dict(targets or {})

    def on_function(self, *, func: griffe.Function, **kwargs: Any) -> None:
        if not _is_async_context_manager(func):
            return
        func.returns = _returns(func)
        usage = _usage(func, self._targets.get(func.name, "cm"))
        if func.docstring is None:
            func.docstring = griffe.Docstring(f"```python\n{usage}\n    ...\n```", parent=func)
        else:
            func.docstring.value = _with_usage(func.docstring.value, usage)
