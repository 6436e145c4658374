"""Mail out: the delivery queue, rendering, the worker and bounces."""
