"""Expert datasets: closed-loop episodes of the exact controller, states over the whole domain and
on-policy states, all labelled by the exact MIQP (``mimpc generate``). This package runs
controllers, so it stands above them; loading datasets is :mod:`mimpc.training.dataset`."""
