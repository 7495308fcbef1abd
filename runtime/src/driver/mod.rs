//! Drivers: the code that reads and changes the host for the engine's
//! plans. `linux::netlink` owns links, addresses, routes, neighbours and
//! FDB entries; the other kinds (modules, sysctls, files, masquerade) belong
//! to other drivers.

pub mod linux;
