"""Linux networking for pycompose: per-project network namespaces, bridges, veth
pairs, IPAM, DNS and published ports. Imports neither ``pycompose.compose`` nor
``pycompose.engine``; importing this package is light (trio and dnspython are imported
by the calls that need them, pyroute2 only for conntrack).

The API (sync calls touch the kernel through rtnetlink (rtnl.py) and libnftables
(nftctx.py): from trio, run them in a worker thread, ``trio.to_thread.run_sync``)::

    from pycompose.netplug import Networks, PortBinding, DnsServer
    nets = Networks(root)            # state under $ROOT/networks (atomic json + flock)
    net = nets.ensure(name, project="proj" | None, subnet=None, gateway=None,
                      ip_range=None, internal=False, labels={}, driver_opts={})
                                     # idempotent; -> NetworkRecord (.subnet, .gateway...)
    nets.ensure_default()            # docker's "bridge" for a plain `container run`
    nets.remove(name); nets.list(); nets.inspect(name); nets.exists(name); nets.prune()
    att = nets.attach(name, container_id, "/proc/PID/ns/net", "eth0",
                      ipv4_address=None, aliases=["web", "hostname", "alias"],
                      container_name="proj-web-1", links={"db1": "proj-db-1"},
                      project="proj", dns=["1.1.1.1"], mac=None)
                                     # -> Attachment(network, ip, prefixlen, gateway, mac,
                                     #    ifname); the same container again gets the same
                                     #    address; gateway None on internal networks
    nets.detach(name, container_id)  # releases the address (container removed)
    nets.attachments(container_id)   # network -> AttachmentRecord
    nets.publish(container_id, ip, [PortBinding("", 8080, 80, "tcp"), ...])
                                     # -> bindings with the real host ports
    nets.unpublish(container_id); nets.ports(container_id)
    nets.host_gateway(name)          # the host's address for extra_hosts "host-gateway"
    nets.cleanup_project(project); nets.cleanup_all()
    parse_port("127.0.0.1:8080-8081:80-81/udp") -> [PortBinding, ...]; format_mapping()
    dns = DnsServer(nets)            # trio: `await dns.run()` (or nursery.start(dns.run))
                                     # serves every network on its gateway:53, in the
                                     # network's namespace; reloads the state on change
    services = NetworkServices(nets) # the supervisor's one task: DNS of every network and
                                     # the userland proxies (IPv6 host addresses);
                                     # `await nursery.start(services.run)`, notify()
    resolv_conf_for(nameservers=[att.gateway], dns=..., dns_search=..., dns_opt=...)
    hosts_file_for(hostname, ips, extra_hosts=[...], host_gateway=...)
    parse_network_mode("service:db") -> NetworkMode(kind="service", target="db")

A container's life, as the runtime/compose drive it:

1. ``up``: ``nets.ensure(f"{project}_default", project=project)`` and each declared
   network (``external: true``: only check ``nets.exists(name)``; never ensure/remove).
2. start: the runtime makes the container's namespaces; for each network, in order,
   ``nets.attach(net, cid, f"/proc/{pid}/ns/net", f"eth{i}", aliases=[service,
   hostname, *aliases], container_name=name, links=..., project=project, dns=dns)``.
   The first network's gateway (or default route) wins.
3. /etc files: ``resolv_conf_for(nameservers=[nets.inspect(first_net).gateway],
   dns_search=..., dns_opt=...)`` (each network's DNS server listens on the network's
   gateway address, internal networks too), ``hosts_file_for(hostname, [ips], extra_hosts=...,
   host_gateway=nets.host_gateway(net))``.
4. ``nets.publish(cid, first.ip, bindings)`` (again after each restart: same ports).
5. stop: nothing (the veth dies with the namespace; the address stays reserved).
   remove: ``nets.unpublish(cid)`` and ``nets.detach(net, cid)`` for each network.
6. ``down``: after the containers, ``nets.cleanup_project(project)``; it also finds
   what a killed ``up`` left behind.

Address pools: docker's defaults (172.17-31.0.0/16, then 192.168.0.0/16 in /20s),
skipping every subnet routed on the host; ``Networks(pools=...)`` or
``PYCOMPOSE_NET_POOLS="10.10.0.0/16:24,10.20.0.0/16"`` (base:size) change them.

Where things are: the topology in networks.py, addresses in ipam.py, rulesets in
nftrules.py, ports in ports.py and forwarding.py, the kernel seam in kernel.py (on
rtnl.py's netlink messages and nftctx.py's rulesets) and nsutil.py, names of kernel
objects in names.py, DNS and /etc files in dns.py and etcfiles.py, the userland port
proxy (IPv6 host addresses) in proxy.py, the supervisor's task in services.py.

``network_mode``: ``host`` (no namespace of its own: no attach), ``none`` (a namespace
with lo only: no attach), ``service:NAME``/``container:NAME`` (the runtime joins the other
container's namespace: no attach). The runtime picks the namespace; netplug is asked
to wire only the bridge-mode containers.
"""

from __future__ import annotations

from .errors import AddressError, NetplugError, NetworkConflict, NetworkNotFound, PortInUse
from .ports import PortBinding, format_mapping, parse_port

TYPE_CHECKING = False  # not typing's: the thin CLI imports netplug.ports (``-p``)
if TYPE_CHECKING:
    from typing import Any

    from .dns import DnsServer
    from .etcfiles import NetworkMode, hosts_file_for, parse_network_mode, resolv_conf_for
    from .networks import Attachment, Networks
    from .services import NetworkServices

__all__ = [
    "AddressError", "Attachment", "DnsServer", "NetplugError", "NetworkConflict",
    "NetworkMode", "NetworkNotFound", "NetworkServices", "Networks", "PortBinding", "PortInUse",
    "format_mapping", "hosts_file_for", "parse_network_mode", "parse_port",
    "resolv_conf_for",
]


def __getattr__(name: str) -> Any:
    if name in ("NetworkMode", "hosts_file_for", "parse_network_mode", "resolv_conf_for"):
        from . import etcfiles

        return getattr(etcfiles, name)
    if name in ("Networks", "Attachment"):
        from . import networks

        return getattr(networks, name)
    if name == "DnsServer":
        from .dns import DnsServer

        return DnsServer
    if name == "NetworkServices":
        from .services import NetworkServices

        return NetworkServices
    raise AttributeError(name)
