"""Source coders of the classical baselines: text (UTF-8) and byte payloads over a link."""
