"""HTTP front doors, one blueprint each. Handlers parse, call one service method, render."""
