"""Mail out: the delivery queue, the composer of the gateway's own mail, a post's rendering
for its members, the worker and bounces."""
