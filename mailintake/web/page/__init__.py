"""What every console page is made with: the console's context (settings, database, campaign files),
rendering a template with the navigation and flashes, and security (sign-in, roles, CSRF, headers)."""
