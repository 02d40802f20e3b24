"""What the pages share: cached loaders and session state (state), the sidebar (sidebar) and
plotly figure builders (charts). No tensor math here either: that is core's job."""
