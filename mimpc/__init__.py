"""mimpc: closed-loop mixed-integer MPC with exact MIQP solvers and learned policies."""

__version__ = "0.1.0"
