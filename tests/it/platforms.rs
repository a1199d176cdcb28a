//! The platforms whose custom domain points at a routing or DNS layer in front of a direct URL,
//! one row each, with names in that platform's shapes. The sandbox DNS authority serves them on
//! loopback, so they exist nowhere else; `init`, `diagnose` and the Worker tests walk the table.

use std::net::IpAddr;

use failover::sandbox::dns::DnsServer;

/// The custom domain of every platform world.
pub const PUBLIC: &str = "app.example.test";

pub struct Platform {
    pub runbook: &'static str,
    /// The custom domain's CNAME target.
    pub target: &'static str,
    /// The direct URL's host.
    pub origin: &'static str,
    /// The direct URL's path (API Gateway's stage), "" for none.
    pub base_path: &'static str,
    /// The runbook picked from the target alone (an origin of no known platform).
    pub by_target: &'static str,
    /// A header the direct URL requires of a proxy (its value comes from the config).
    pub header: Option<(&'static str, &'static str)>,
    /// The platform's own error page for a broken app: status, headers, body, and how the
    /// evidence names it.
    pub error: Option<PlatformError>,
}

pub struct PlatformError {
    pub status: u16,
    pub headers: &'static [(&'static str, &'static str)],
    pub body: &'static str,
    pub named: &'static str,
}

pub const PLATFORMS: &[Platform] = &[
    Platform {
        runbook: "heroku-dns-target",
        target: "haiku-word-123.herokudns.com",
        origin: "myapp-abc123.herokuapp.com",
        base_path: "",
        by_target: "heroku-dns-target",
        header: None,
        error: Some(PlatformError {
            status: 503,
            headers: &[("server", "heroku-router")],
            body: "<html><title>Application Error</title><!-- code=H10 desc=\"App crashed\" --></html>",
            named: "Heroku H10",
        }),
    },
    Platform {
        runbook: "azure-front-door",
        target: "contoso-frontend-mdjf2jfgjf82mnzx.z01.azurefd.net",
        origin: "contoso-api.azurewebsites.net",
        base_path: "",
        by_target: "azure-front-door",
        header: Some(("X-Azure-FDID", "4c1b9d21-7f3e-4a4e-9d55-0a6f2b8c3e11")),
        error: None,
    },
    Platform {
        runbook: "google-cloud-run",
        target: "ghs.googlehosted.com",
        origin: "api-abc123xyz-uc.a.run.app",
        base_path: "",
        by_target: "google-cloud-run",
        header: None,
        error: None,
    },
    Platform {
        runbook: "google-app-engine",
        target: "ghs.googlehosted.com",
        origin: "my-project.uc.r.appspot.com",
        base_path: "",
        // The target is shared with Cloud Run: alone it cannot tell them apart.
        by_target: "google-cloud-run",
        header: None,
        error: None,
    },
    Platform {
        runbook: "vercel",
        target: "d1d4fc829fe7bc7c.vercel-dns-017.com",
        origin: "acme-web.vercel.app",
        base_path: "",
        by_target: "vercel",
        header: Some(("x-vercel-protection-bypass", "s3cr3t-bypass-for-automation")),
        error: Some(PlatformError {
            status: 404,
            headers: &[("server", "Vercel"), ("x-vercel-id", "iad1::abcde-1")],
            body: "404: NOT_FOUND\nCode: DEPLOYMENT_NOT_FOUND\nID: iad1::abcde-1",
            named: "Vercel DEPLOYMENT_NOT_FOUND",
        }),
    },
    Platform {
        runbook: "railway",
        target: "g05ns7.up.railway.app",
        origin: "api-production.up.railway.app",
        base_path: "",
        by_target: "railway",
        header: None,
        error: Some(PlatformError {
            status: 404,
            headers: &[],
            body: "Not Found\nThe train has not arrived at the station.\nPlease check your network settings (https://docs.railway.com/guides/public-networking)",
            named: "Railway The train has not arrived at the station",
        }),
    },
    Platform {
        runbook: "aws-api-gateway",
        target: "d-abcde12345.execute-api.us-east-1.amazonaws.com",
        origin: "abc123defg.execute-api.us-east-1.amazonaws.com",
        base_path: "/prod",
        by_target: "aws-api-gateway",
        header: None,
        error: None,
    },
];

impl Platform {
    /// The direct URL on loopback: the platform's host at `port`, with its base path.
    pub fn origin_url(&self, port: u16) -> String {
        format!("http://{}:{port}{}", self.origin, self.base_path)
    }

    /// The platform's names in `dns`: the custom domain CNAMEs to the target, and the target
    /// and the direct URL's host resolve to loopback.
    pub fn serve_names(&self, dns: &DnsServer) {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        dns.set_cname(PUBLIC, self.target).unwrap();
        dns.set_addrs(self.target, &[loopback]);
        dns.set_addrs(self.origin, &[loopback]);
    }
}
