"""``apt-get install`` inside an image made by ``image bootstrap``: RUN's network goes
through the default bridge's NAT to the package mirror; apt's caches are cache mounts
kept between builds. Slow (a mirror, a few MB); CI still runs it."""

from __future__ import annotations

import pytest
from conftest import Builder

pytestmark = pytest.mark.slow

APT = """\
FROM debian:bookworm
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\
    rm -f /etc/apt/apt.conf.d/docker-clean && \\
    echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' \\
        > /etc/apt/apt.conf.d/keep-cache && \\
    apt-get update -qq && apt-get install -y -qq --no-install-recommends {pkg} && \\
    ls /var/cache/apt/archives/ > /apt-cache-listing
CMD ["/usr/games/cowsay", "built by pycompose"]
"""


def test_apt_get_install_in_a_bootstrapped_debian_image(builder: Builder,
                                                        debian_image: str) -> None:
    builder.dockerfile(APT.format(pkg="cowsay"))
    r = builder.ok("-t", "cow:1", timeout=900)
    assert "Setting up cowsay" in r.stderr
    out = builder.run("cow:1")
    assert "built by pycompose" in out and "(oo)" in out
    # the apt caches were mounts: not in the image
    listing = builder.run("cow:1", "sh", "-c", "ls /var/lib/apt/lists | wc -l; "
                          "ls /var/cache/apt/archives | wc -l").split()
    assert listing[0] in ("0", "1") and listing[1] in ("0", "1", "2")
    # a second build (another package) finds the first one's downloads in the cache mount
    builder.dockerfile(APT.format(pkg="cowsay sl"))
    r = builder.ok("-t", "cow:2", timeout=900)
    seen = builder.run("cow:2", "cat", "/apt-cache-listing")
    assert "cowsay_" in seen and "sl_" in seen
