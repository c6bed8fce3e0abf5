# Filled in by the install step.
