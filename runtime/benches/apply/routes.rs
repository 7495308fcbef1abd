//! The route benchmarks: 5,000 routes through the library (pipelined or
//! one request at a time), through `ip -batch` and through one `ip` process
//! per route, each into a fresh namespace.

use super::*;

/// Which next hop the benchmark routes take.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Gateways {
    /// Each route its own, as flannel's peer routes (the kernel makes a
    /// next hop per gateway, most of the cost of a route).
    PerRoute,
    /// One for all: the kernel's work per route is small, so what is left
    /// is the client's own.
    Shared,
}

/// Route `i`: a /30 every 16 addresses from 198.18.0.0, so the 5,000 routes
/// spread over 198.18.0.0/15, onlink, via the route's own first address or
/// the shared gateway 198.51.100.9.
pub(super) fn route(i: usize, gateways: Gateways) -> (String, String) {
    let offset = u32::try_from(i * 16).expect("a small offset");
    let network = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + offset);
    let via = match gateways {
        Gateways::PerRoute => network.to_string(),
        Gateways::Shared => "198.51.100.9".to_owned(),
    };
    (format!("{network}/30"), via)
}

pub(super) fn route_objects(gateways: Gateways) -> Vec<Object> {
    (0..ROUTES)
        .map(|i| {
            let (destination, via) = route(i, gateways);
            Object::Route {
                destination: destination.parse().expect("a prefix"),
                via: via.parse().expect("an address"),
                device: Some(DEVICE.to_owned()),
                onlink: true,
            }
        })
        .collect()
}

pub(super) fn route_add_args(i: usize, gateways: Gateways) -> Vec<String> {
    let (destination, via) = route(i, gateways);
    [
        "route",
        "add",
        &destination,
        "via",
        &via,
        "dev",
        DEVICE,
        "onlink",
        "proto",
        &NETC_ROUTE_PROTOCOL.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// How the library sends a plan's steps.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Send {
    /// `Netlink::apply_all`: runs of steps pipelined in batches.
    Pipelined,
    /// `Netlink::apply` per step: one request, one answer, then the next.
    OneByOne,
}

/// Library: 5,000 routes into a fresh namespace (plan from nothing, then
/// the steps sent as `send` says; the connection is opened inside the
/// timing), then the no-op reconcile (`observe` + `plan`) with them present.
pub(super) fn library_run(desired: &[Object], send: Send) -> Result<(Duration, Duration)> {
    let namespace = Namespace::new("198.51.100.1/24")?;
    let plan = engine::plan(desired, &Observed::new(), &Inventory::new());
    if plan.steps.len() != ROUTES {
        return Err(format!("planned {} steps for {ROUTES} routes", plan.steps.len()));
    }
    let start = Instant::now();
    let netlink = Netlink::in_namespace(Some(&namespace.name)).map_err(|e| e.0)?;
    match send {
        Send::Pipelined => {
            let outcomes = netlink.apply_all(&plan.steps);
            if outcomes.len() != ROUTES {
                return Err(format!("{} of {ROUTES} steps were sent", outcomes.len()));
            }
            outcomes
                .into_iter()
                .collect::<std::result::Result<(), _>>()
                .map_err(|e| e.0)?;
        }
        Send::OneByOne => {
            for step in &plan.steps {
                netlink.apply(step).map_err(|e| e.0)?;
            }
        }
    }
    let applied = start.elapsed();
    if namespace.netc_routes()? != ROUTES {
        return Err(format!("the namespace does not have the {ROUTES} routes after apply"));
    }

    let keys: BTreeSet<ObjectKey> = desired.iter().map(Object::key).collect();
    let owned: Inventory = keys.clone();
    let start = Instant::now();
    let observed = netlink.observe(&keys).map_err(|e| e.0)?;
    let again = engine::plan(desired, &observed, &owned);
    let reconciled = start.elapsed();
    if !again.is_empty() {
        return Err(format!("the no-op reconcile planned {} steps", again.steps.len()));
    }
    Ok((applied, reconciled))
}

/// `ip -n NS -batch FILE`, which must leave `routes` of netc's routes.
pub(super) fn batch_run(file: &Path, routes: usize) -> Result<Duration> {
    let namespace = Namespace::new("198.51.100.1/24")?;
    let path = file.to_str().ok_or("temporary path is not UTF-8")?;
    let start = Instant::now();
    ip(&["-n", &namespace.name, "-batch", path])?;
    let elapsed = start.elapsed();
    if namespace.netc_routes()? != routes {
        return Err(format!("ip -batch did not leave {routes} routes"));
    }
    Ok(elapsed)
}

/// A batch file adding the first `count` routes.
pub(super) fn batch_file(dir: &Path, name: &str, count: usize, gateways: Gateways) -> Result<PathBuf> {
    let file = dir.join(name);
    let lines: String = (0..count)
        .map(|i| route_add_args(i, gateways).join(" ") + "\n")
        .collect();
    fs::write(&file, lines).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(file)
}

/// One `ip -n NS route add` process per route.
pub(super) fn processes_run() -> Result<Duration> {
    let namespace = Namespace::new("198.51.100.1/24")?;
    let start = Instant::now();
    for i in 0..ROUTES {
        let mut args = vec!["-n".to_owned(), namespace.name.clone()];
        args.extend(route_add_args(i, Gateways::PerRoute));
        let status = Command::new("ip")
            .args(&args)
            .status()
            .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
        if !status.success() {
            return Err(format!("ip {} failed", args.join(" ")));
        }
        check_phase(start, "one process per route")?;
    }
    let elapsed = start.elapsed();
    if namespace.netc_routes()? != ROUTES {
        return Err(format!("the processes did not leave {ROUTES} routes"));
    }
    Ok(elapsed)
}
