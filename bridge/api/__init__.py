"""HTTP surfaces of the bridge (one blueprint per surface)."""
