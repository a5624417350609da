"""Report records shared by the bench, area, e2e, power and sweep reports (:mod:`.schema`)."""
