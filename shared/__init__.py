"""Code every Doctor Portal service uses: settings, event envelope and catalogue, messaging, telemetry."""
