"""Exceptions and warnings raised by the control core."""


class DiLQRError(RuntimeError):
    """Base class of the errors the control core raises."""


class NotConvergedError(DiLQRError):
    """Some batch items did not converge and ``on_unconverged="raise"`` was chosen."""


class NonFiniteError(DiLQRError, ValueError):
    """An input, a model output or a derivative is NaN or infinite."""


class RowCouplingError(DiLQRError, ValueError):
    """A model's output for one row changed when other rows were added: it does not act row by row (e.g.
    BatchNorm or Dropout in training mode), which the solver's derivatives and rollouts assume."""


class UnconvergedWarning(UserWarning):
    """Some batch items did not converge; their gradient is that of the last iterate (or zero)."""


class HessianFallbackWarning(UserWarning):
    """The adjoint's reduced Lagrangian Hessian was not positive definite for some items; the backward
    pass used the cost Hessian (the DiffMPC gradient) for them, or a zero gradient where that failed too."""
