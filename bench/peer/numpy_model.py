#!/usr/bin/python3
"""The T-Head model of MODEL.md section 3 in NumPy/SciPy: the peer spinval is timed against.

Written as a careful quant would write it for speed, not as a port of spinval: paths in
vectorised chunks (structure of arrays), NumPy's default generator (PCG64), independent inputs
drawn by NumPy's own samplers (Generator.beta for PERT, .normal, .lognormal, ...), and only the
inputs in `correlations` through a Gaussian copula (correlated normals, then Phi and the
marginal's inverse CDF: scipy.special.betaincinv for PERT). Per-path and yearly outputs are
kept for the whole run (float64, as spinval's exact quantile mode) and summarised as spinval
does: mean, std (n - 1), stderr, min, max and type-7 quantiles (NumPy's default).

    /usr/bin/python3 bench/peer/numpy_model.py scenarios/thead-base.yaml --paths 1000000

prints one JSON object on stdout: scenario, paths, seed, metrics, yearly, regime_share, timing.
Supports the scenario format of docs/model.md that the scenarios in scenarios/ use: `extends`,
constants, uniform, triangular, pert, beta, normal, lognormal, discrete and bernoulli
(truncation and the other distributions raise an error), and the Gaussian copula.
Use Debian's /usr/bin/python3 (python3-numpy, python3-scipy, python3-yaml).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import yaml
from scipy import special

CHUNK = 1 << 16  # paths per vectorised chunk: ~40 arrays of 64k doubles stay in L2/L3
QUANTILES = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]
QUANTILE_NAMES = ["p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99"]
OUTPUTS = ["ev_usd", "ev_relative_usd", "ev_dcf_usd", "equity_usd", "offer_value_usd",
           "mark_value_usd", "parent_stake_usd", "parent_per_ads_usd", "listed",
           "peer_multiple", "company_multiple"]
YEARLY = ["shipments", "asp_usd", "unit_cost_usd", "revenue_usd", "gross_margin", "ebit_usd",
          "fcf_usd"]

# The [D] leaves the model draws, by dotted key.
LEAVES = [
    "market.units_base", "market.growth_start", "market.growth_end",
    "company.shipments_base", "company.share_ceiling", "company.adoption_speed",
    "company.capacity_base", "company.capacity_growth", "company.captive_share_start",
    "company.captive_share_end", "company.captive_markup",
    "pricing.h20_price_base", "pricing.h20_price_decline", "pricing.perf_ratio_base",
    "pricing.perf_drift", "pricing.entrant_discount",
    "cost.h20_unit_cost", "cost.advantage", "cost.learning_rate",
    "other_revenue.base", "other_revenue.growth", "other_revenue.gross_margin",
    "opex.ratio_start", "opex.ratio_end", "opex.fixed",
    "finance.tax_rate", "finance.reinvestment_rate", "finance.net_cash",
    "peers.long_run_ev_sales", "peers.half_life_years",
    "valuation.multiple_haircut", "valuation.wacc", "valuation.terminal_growth",
    "ipo.year", "ipo.offer_discount", "ipo.private_discount", "ipo.primary_raise", "ipo.float",
    "ipo.employee_pool",
]


# ---- scenario

def merge(base, over):
    """`extends`: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    return over


def load(path, seen=()):
    path = os.path.abspath(path)
    if path in seen:
        sys.exit(f"numpy_model: extends cycle at {path}")
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    parent = doc.pop("extends", None)
    if parent is None:
        return doc
    return merge(load(os.path.join(os.path.dirname(path), parent), seen + (path,)), doc)


def leaf(s, key):
    node = s
    for part in key.split("."):
        node = node[part]
    return node


class Marginal:
    """One [D] leaf: a direct sampler for independent draws, and an inverse CDF for the copula."""

    def __init__(self, spec):
        if not isinstance(spec, dict):
            self.kind, self.value = "constant", float(spec)
            return
        self.kind = spec["dist"]
        self.p = spec
        if any(k in spec for k in ("truncate_min", "truncate_max")) or (
                self.kind in ("normal", "lognormal") and ("min" in spec or "max" in spec)):
            raise NotImplementedError("truncated distributions")
        if self.kind in ("pert", "beta"):
            lo, hi = float(spec.get("min", 0.0)), float(spec.get("max", 1.0))
            if self.kind == "pert":
                lam = float(spec.get("lambda", 4.0))
                mode = float(spec["mode"])
                self.a = 1.0 + lam * (mode - lo) / (hi - lo)
                self.b = 1.0 + lam * (hi - mode) / (hi - lo)
            else:
                self.a, self.b = float(spec["alpha"]), float(spec["beta"])
            self.lo, self.w = lo, hi - lo
        elif self.kind == "lognormal":
            if "median" in spec:
                self.mu, self.sigma = math.log(spec["median"]), float(spec["sigma"])
            else:
                m, sd = float(spec["mean"]), float(spec["sd"])
                s2 = math.log1p((sd / m) ** 2)
                self.mu, self.sigma = math.log(m) - 0.5 * s2, math.sqrt(s2)
        elif self.kind == "discrete":
            order = np.argsort(spec["values"])
            self.values = np.asarray(spec["values"], float)[order]
            probs = np.asarray(spec["probs"], float)[order]
            self.cum = np.cumsum(probs / probs.sum())
        elif self.kind not in ("uniform", "triangular", "normal", "bernoulli"):
            raise NotImplementedError(f"distribution {self.kind}")

    def sample(self, rng, n):
        k, p = self.kind, getattr(self, "p", None)
        if k == "constant":
            return np.full(n, self.value)
        if k in ("pert", "beta"):
            return self.lo + self.w * rng.beta(self.a, self.b, n)
        if k == "uniform":
            return rng.uniform(p["min"], p["max"], n)
        if k == "triangular":
            return rng.triangular(p["min"], p["mode"], p["max"], n)
        if k == "normal":
            return rng.normal(p["mean"], p["sd"], n)
        if k == "lognormal":
            return rng.lognormal(self.mu, self.sigma, n)
        if k == "bernoulli":
            return (rng.random(n) < p["p"]).astype(float)
        return self.ppf(rng.random(n))  # discrete

    def from_normal(self, z):
        """The marginal's value at standard normal score z (the Gaussian copula)."""
        k, p = self.kind, getattr(self, "p", None)
        if k == "constant":
            return np.full(z.shape, self.value)
        if k == "normal":
            return p["mean"] + p["sd"] * z
        if k == "lognormal":
            return np.exp(self.mu + self.sigma * z)
        return self.ppf(special.ndtr(z))

    def ppf(self, u):
        k, p = self.kind, getattr(self, "p", None)
        if k in ("pert", "beta"):
            return self.lo + self.w * special.betaincinv(self.a, self.b, u)
        if k == "uniform":
            return p["min"] + (p["max"] - p["min"]) * u
        if k == "triangular":
            lo, c, hi = p["min"], p["mode"], p["max"]
            f = (c - lo) / (hi - lo)
            return np.where(u < f, lo + np.sqrt(u * (hi - lo) * (c - lo)),
                            hi - np.sqrt((1 - u) * (hi - lo) * (hi - c)))
        if k == "discrete":
            i = np.minimum(np.searchsorted(self.cum, u), len(self.values) - 1)
            return self.values[i]
        if k == "bernoulli":
            return (u > 1.0 - p["p"]).astype(float)
        raise NotImplementedError(k)


class Scenario:
    def __init__(self, path):
        s = load(path)
        self.name = s["name"]
        self.base_year = int(s["base_year"])
        self.H = int(s["horizon_years"])
        sim = s.get("simulation", {})
        self.paths, self.seed = int(sim.get("paths", 100000)), int(sim.get("seed", 1))
        peers = s["peers"]["list"]
        self.peers = peers
        self.marginals = {k: Marginal(leaf(s, k)) for k in LEAVES}
        for p in peers:
            self.marginals[f"peers.list.{p['name']}.ev_sales"] = Marginal(p["ev_sales"])
        self.marginals["peers.sentiment"] = Marginal({"dist": "normal", "mean": 0.0, "sd": 1.0})
        for p in peers:
            self.marginals[f"peers.list.{p['name']}.shock"] = Marginal(
                {"dist": "normal", "mean": 0.0, "sd": 1.0})
        self.sigma_m = float(s["market"]["growth_sigma"])
        self.sigma_q = float(s["company"]["execution_sigma"])
        self.sigma_r = float(s["pricing"]["perf_sigma"])
        self.listed_p = float(s["ipo"]["probability"])
        self.omega = float(s["valuation"]["relative_weight"])
        self.ads = float(s["parent"]["ads_outstanding"])
        r = s["regime"]
        self.states = list(r["states"])
        idx = {n: i for i, n in enumerate(self.states)}
        self.initial = idx[r["initial"]] if isinstance(r["initial"], str) else int(r["initial"])
        rows = r["transition"]
        rows = [rows[n] for n in self.states] if isinstance(rows, dict) else rows
        P = np.asarray(rows, float)
        self.cum = np.cumsum(P / P.sum(axis=1, keepdims=True), axis=1)
        self.cum[:, -1] = np.inf  # a uniform above every cumulative sum lands in the last state

        def by_state(x):
            return np.asarray([x[n] for n in self.states] if isinstance(x, dict) else x, float)

        self.phi = by_state(r["share_multiplier"])
        self.premium = by_state(r["price_premium"])
        if s.get("correlation", {}).get("method", "gaussian") != "gaussian" or \
                s.get("correlation", {}).get("kind", "pearson") != "pearson":
            raise NotImplementedError("only the Gaussian copula with Pearson input")
        keys = []
        for a, b, _ in s.get("correlations", []):
            keys += [k for k in (a, b) if k not in keys]
        C = np.eye(len(keys))
        for a, b, rho in s.get("correlations", []):
            i, j = keys.index(a), keys.index(b)
            C[i, j] = C[j, i] = rho
        self.corr_keys = keys
        self.chol = np.linalg.cholesky(C) if keys else None


# ---- the model, one chunk of paths

def draw_statics(sc, rng, n):
    x = {}
    if sc.corr_keys:
        z = rng.standard_normal((n, len(sc.corr_keys))) @ sc.chol.T
        for j, k in enumerate(sc.corr_keys):
            x[k] = sc.marginals[k].from_normal(z[:, j])
    for k, m in sc.marginals.items():
        if k not in x:
            x[k] = m.sample(rng, n)
    return x


def run_chunk(sc, rng, n, out, yearly, regimes, at):
    H, x = sc.H, draw_statics(sc, rng, n)
    M0, g1, gH = x["market.units_base"], x["market.growth_start"], x["market.growth_end"]
    Q0, s_max = x["company.shipments_base"], x["company.share_ceiling"]
    kappa, C0 = x["company.adoption_speed"], x["company.capacity_base"]
    gC = x["company.capacity_growth"]
    c1, cH = x["company.captive_share_start"], x["company.captive_share_end"]
    mu_c = x["company.captive_markup"]
    P0, d = x["pricing.h20_price_base"], x["pricing.h20_price_decline"]
    r0, mu_r = x["pricing.perf_ratio_base"], x["pricing.perf_drift"]
    delta = x["pricing.entrant_discount"]
    KH, a, LR = x["cost.h20_unit_cost"], x["cost.advantage"], x["cost.learning_rate"]
    O0, gO, gmO = x["other_revenue.base"], x["other_revenue.growth"], \
        x["other_revenue.gross_margin"]
    o1, oH, F = x["opex.ratio_start"], x["opex.ratio_end"], x["opex.fixed"]
    theta, rho, net_cash = x["finance.tax_rate"], x["finance.reinvestment_rate"], \
        x["finance.net_cash"]
    W, g_inf = x["valuation.wacc"], x["valuation.terminal_growth"]
    tau = np.round(x["ipo.year"] - sc.base_year)

    b = -np.log1p(-LR) / math.log(2.0)
    cost_base = KH * (1.0 - a)
    pi0 = sc.premium[sc.initial]
    rev_prev = Q0 * (c1 * cost_base * (1 + mu_c)
                     + (1 - c1) * P0 * r0 * (1 + pi0) * (1 - delta)) + O0
    M, U, r = M0.copy(), Q0.copy(), r0.copy()
    N = np.zeros(n)
    state = np.full(n, sc.initial)
    cap, decline, other = np.ones(n), np.ones(n), np.ones(n)
    discount, dcf, rev_fwd = np.ones(n), np.zeros(n), np.zeros(n)
    s_ratio = s_max / (Q0 / M0) - 1.0
    one_plus_w = 1.0 + W
    eps = rng.standard_normal((3, H, n))
    u_regime = rng.random((H, n))
    for y in range(1, H + 1):
        lam = (y - 1) / (H - 1)
        M *= np.exp(g1 + (gH - g1) * lam + sc.sigma_m * eps[0, y - 1])
        share = s_max / (1.0 + s_ratio * np.exp(-kappa * y))
        # Regime: the first state whose cumulative row probability reaches u.
        cum = sc.cum[state]
        state = (u_regime[y - 1][:, None] > cum).sum(axis=1)
        demand = M * np.minimum(share * sc.phi[state], 1.0) * np.exp(
            sc.sigma_q * eps[1, y - 1] - 0.5 * sc.sigma_q ** 2)
        cap *= 1.0 + gC
        Q = np.minimum(demand, C0 * cap)
        K = cost_base * np.exp(-b * np.log(U / Q0))
        U += Q
        r *= np.exp(mu_r + sc.sigma_r * eps[2, y - 1])
        decline *= 1.0 - d
        X = P0 * decline * r * (1.0 + sc.premium[state]) * (1.0 - delta)
        c = c1 + (cH - c1) * lam
        Rc = Q * (c * K * (1.0 + mu_c) + (1.0 - c) * X)
        Gc = Rc - Q * K
        other *= 1.0 + gO
        Ro = O0 * other
        Go = gmO * Ro
        rev = Rc + Ro
        ebit = Gc + Go - ((o1 + (oH - o1) * lam) * rev + F)
        B = np.maximum(ebit, 0.0)
        tax = theta * np.maximum(B - N, 0.0)
        N = N - np.minimum(N, B) + np.maximum(-ebit, 0.0)
        fcf = ebit - tax - rho * np.maximum(rev - rev_prev, 0.0)
        rev_prev = rev
        rev_fwd += np.where(tau == y - 1, rev, 0.0)
        after = tau < y
        discount = np.where(after, discount / one_plus_w, discount)
        dcf += np.where(after, fcf * discount, 0.0)
        sl = slice(at, at + n)
        yearly[0, y - 1, sl] = Q
        with np.errstate(divide="ignore", invalid="ignore"):
            yearly[1, y - 1, sl] = np.where(Q > 0, Rc / Q, 0.0)
        yearly[2, y - 1, sl] = K
        yearly[3, y - 1, sl] = rev
        yearly[4, y - 1, sl] = (Gc + Go) / rev
        yearly[5, y - 1, sl] = ebit
        yearly[6, y - 1, sl] = fcf
        regimes[y - 1] += np.bincount(state, minlength=len(sc.states))
    ev_dcf = dcf + fcf * (1.0 + g_inf) / (W - g_inf) * discount
    reversion = np.exp(-tau / x["peers.half_life_years"] * math.log(2.0))
    log_inf = np.log(x["peers.long_run_ev_sales"])
    F_ = x["peers.sentiment"]
    weighted = np.zeros(n)
    total = 0.0
    for p in sc.peers:
        m0 = x[f"peers.list.{p['name']}.ev_sales"]
        e = x[f"peers.list.{p['name']}.shock"]
        weighted += p["weight"] * np.exp(log_inf + (np.log(m0) - log_inf) * reversion
                                         + p["beta"] * F_ + p["sigma"] * e)
        total += p["weight"]
    m_peer = weighted / total
    m_c = m_peer * (1.0 - x["valuation.multiple_haircut"])
    ev_rel = m_c * rev_fwd
    ev = sc.omega * ev_rel + (1.0 - sc.omega) * ev_dcf
    equity = ev + net_cash + x["ipo.primary_raise"]
    offer = equity * (1.0 - x["ipo.offer_discount"])
    listed = (rng.random(n) < sc.listed_p).astype(float)
    stake = equity * (1.0 - x["ipo.employee_pool"]) * (1.0 - x["ipo.float"])
    o = out[:, at:at + n]
    o[0], o[1], o[2], o[3], o[4] = ev, ev_rel, ev_dcf, equity, offer
    o[5] = np.where(listed > 0.5, offer, equity * (1.0 - x["ipo.private_discount"]))
    o[6], o[7], o[8], o[9], o[10] = stake, stake / sc.ads, listed, m_peer, m_c


def summarise(values):
    n = values.size
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if n > 1 else 0.0
    q = np.quantile(values, QUANTILES)  # type 7, partitions a copy
    m = {"mean": mean, "std": std, "stderr": std / math.sqrt(n),
         "min": float(values.min()), "max": float(values.max())}
    m.update({name: float(v) for name, v in zip(QUANTILE_NAMES, q)})
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--paths", type=int)
    ap.add_argument("--seed", type=int)
    args = ap.parse_args()
    sc = Scenario(args.scenario)
    n = args.paths or sc.paths
    seed = sc.seed if args.seed is None else args.seed
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    out = np.empty((len(OUTPUTS), n))
    yearly = np.empty((len(YEARLY), sc.H, n))
    regimes = np.zeros((sc.H, len(sc.states)), dtype=np.int64)
    for at in range(0, n, CHUNK):
        run_chunk(sc, rng, min(CHUNK, n - at), out, yearly, regimes, at)
    result = {"scenario": sc.name, "seed": seed, "paths": n,
              "metrics": {k: summarise(out[i]) for i, k in enumerate(OUTPUTS)},
              "yearly": {}, "regime_share": {}}
    for m, name in enumerate(YEARLY):
        per_year = {}
        for y in range(sc.H):
            v = yearly[m, y]
            q = np.quantile(v, [0.05, 0.50, 0.95])
            per_year[str(sc.base_year + 1 + y)] = {"mean": float(v.mean()), "p05": float(q[0]),
                                                   "p50": float(q[1]), "p95": float(q[2])}
        result["yearly"][name] = per_year
    for y in range(sc.H):
        result["regime_share"][str(sc.base_year + 1 + y)] = {
            s: float(c) / n for s, c in zip(sc.states, regimes[y])}
    seconds = time.perf_counter() - start
    result["timing"] = {"seconds": seconds, "paths_per_second": n / seconds, "threads": 1}
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
