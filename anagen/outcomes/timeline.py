"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""
