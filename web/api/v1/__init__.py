"""``/api/v1``: routes (:mod:`.routes`), request/response schemas (:mod:`.schemas`) and the
services behind them (:mod:`.services`); handlers call services, never SQL."""
