"""From forecasts to decisions: fees, the maker-first backtest, the release gates and promotion."""
