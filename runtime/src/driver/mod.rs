//! Drivers: the code that reads and changes the host for the engine's
//! plans. `linux::netlink` owns links, addresses, routes, neighbours and
//! FDB entries; `linux::host` the other kinds (files, sysctls, modules, the
//! masquerade chain).

pub mod linux;
