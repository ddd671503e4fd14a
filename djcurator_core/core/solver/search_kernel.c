/* The solver's iterated local search in C: the same moves, perturbation, acceptance and
 * random numbers as the numba kernel (compiled_search.py), function for function, so that
 * both give the same order for the same seed and number of kicks.
 *
 * Why C beside numba: numba's import, cache loading and first compile cost a DJ-sized
 * set more than the search itself (a cold compile takes 10-30 s, a warm start about a
 * second); this file compiles with the system C compiler in well under a second, once
 * per installation, and loads in milliseconds (native_search.py).
 *
 * Layout: the tour t (position -> node) and its inverse p over m nodes (the tracks and
 * the dummy), the cost matrix C (m x m, float64 or float32, summed in float64), the
 * neighbour lists, the optional position penalty (W[level, position], el[node], ideal
 * positions per level), the work queue and the undo journal; see struct Search.
 * Integer arithmetic is on int64_t, as in numba; no floating-point contraction.
 */
#include <stdint.h>

#define EPS 1e-10
#define REVERSE_MAX 50
#define SLACK2 0.0

typedef struct {
    const double *c64; /* one of c64 / c32 is set */
    const float *c32;
    int64_t m;
    int64_t *t;
    int64_t *p;
    const int64_t *out_nb;
    const int64_t *in_nb;
    int64_t k;
    int64_t use_arc;
    int64_t dummy;
    const double *W;
    int64_t w_cols;
    const int64_t *el;
    const int64_t *ideal;
    int64_t ideal_cols;
    int64_t *queue;
    int8_t *inq;
    int64_t *qs;
    int64_t *tmp;
    int64_t *jmeta; /* (j_rows, 3) */
    int64_t j_rows;
    int64_t *jbuf;
    int64_t j_len;
    int64_t *js;
} Search;

static inline double cst(const Search *s, int64_t i, int64_t j) {
    if (s->c32) return (double)s->c32[i * s->m + j];
    return s->c64[i * s->m + j];
}

static inline int64_t rnd(uint64_t *rng, int64_t bound) {
    uint64_t x = rng[0];
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng[0] = x;
    return (int64_t)(x % (uint64_t)bound);
}

static inline int64_t rel(const int64_t *p, int64_t v, int64_t a, int64_t m) {
    int64_t d = p[v] - p[a];
    if (d < 0) d += m;
    return d;
}

static inline int64_t succ(const int64_t *t, const int64_t *p, int64_t v, int64_t m) {
    int64_t i = p[v] + 1;
    if (i == m) i = 0;
    return t[i];
}

static inline int64_t pred(const int64_t *t, const int64_t *p, int64_t v, int64_t m) {
    int64_t i = p[v] - 1;
    if (i < 0) i = m - 1;
    return t[i];
}

static inline int64_t imod(int64_t a, int64_t m) { return a % m; } /* a >= 0 */

static double exchange_gain(const Search *s, int64_t a, int64_t b, int64_t c) {
    const int64_t *t = s->t, *p = s->p;
    int64_t m = s->m;
    int64_t a1 = succ(t, p, a, m), b1 = succ(t, p, b, m), c1 = succ(t, p, c, m);
    return cst(s, a, a1) + cst(s, b, b1) + cst(s, c, c1) - cst(s, a, b1) - cst(s, c, a1) -
           cst(s, b, c1);
}

static double plus_reversal_gain(const Search *s, int64_t start, int64_t length, double g) {
    int64_t m = s->m;
    for (int64_t i = 0; i < length - 1; i++) {
        int64_t u = s->t[imod(start + i, m)];
        int64_t w = s->t[imod(start + i + 1, m)];
        g += cst(s, u, w) - cst(s, w, u);
    }
    return g;
}

static void normalise(const Search *s, int64_t *a, int64_t *b, int64_t *c) {
    const int64_t *p = s->p;
    int64_t m = s->m, dummy = s->dummy;
    int64_t rb = rel(p, *b, *a, m), rc = rel(p, *c, *a, m), rd = rel(p, dummy, *a, m);
    if (rd == 0 || rd > rc) return;
    int64_t a0 = *a, b0 = *b, c0 = *c;
    if (rd <= rb) { /* dummy in (a, b] */
        *a = b0; *b = c0; *c = a0;
    } else { /* dummy in (b, c] */
        *a = c0; *b = a0; *c = b0;
    }
}

static double arc_delta(const Search *s, int64_t a, int64_t b, int64_t c) {
    const int64_t *t = s->t, *p = s->p;
    int64_t m = s->m;
    int64_t la = rel(p, b, a, m), lb = rel(p, c, b, m);
    int64_t start = p[a] + 1;
    int64_t base = rel(p, a, s->dummy, m);
    double delta = 0.0;
    for (int64_t i = 0; i < la; i++) {
        int64_t row = s->el[t[imod(start + i, m)]];
        delta += s->W[row * s->w_cols + base + i + lb] - s->W[row * s->w_cols + base + i];
    }
    int64_t startb = start + la;
    for (int64_t i = 0; i < lb; i++) {
        int64_t row = s->el[t[imod(startb + i, m)]];
        delta += s->W[row * s->w_cols + base + i] - s->W[row * s->w_cols + base + la + i];
    }
    return delta;
}

static double move_gain(const Search *s, int64_t a, int64_t b, int64_t c) {
    double g = exchange_gain(s, a, b, c);
    if (s->use_arc) {
        int64_t na = a, nb = b, nc = c;
        normalise(s, &na, &nb, &nc);
        g -= arc_delta(s, na, nb, nc);
    }
    return g;
}

static int apply_move(Search *s, int64_t a, int64_t b, int64_t c) {
    int64_t *t = s->t, *p = s->p, *tmp = s->tmp, *js = s->js;
    int64_t m = s->m;
    int64_t pa = p[a], pb = p[b], pc = p[c];
    int64_t la = pb - pa;
    if (la < 0) la += m;
    int64_t lb = pc - pb;
    if (lb < 0) lb += m;
    int64_t lc = m - la - lb;
    int64_t start, s1, n1, s2, n2;
    if (la + lb <= lb + lc && la + lb <= lc + la) {
        start = pa + 1; s1 = pb + 1; n1 = lb; s2 = pa + 1; n2 = la;
    } else if (lb + lc <= lc + la) {
        start = pb + 1; s1 = pc + 1; n1 = lc; s2 = pb + 1; n2 = lb;
    } else {
        start = pc + 1; s1 = pa + 1; n1 = la; s2 = pc + 1; n2 = lc;
    }
    int64_t total = n1 + n2;
    if (js[2] == 1) {
        if (js[0] >= s->j_rows || js[1] + total > s->j_len) return 0;
        int64_t e = js[0];
        s->jmeta[e * 3 + 0] = start;
        s->jmeta[e * 3 + 1] = total;
        s->jmeta[e * 3 + 2] = js[1];
        int64_t off = js[1];
        for (int64_t i = 0; i < total; i++) s->jbuf[off + i] = t[imod(start + i, m)];
        js[0] = e + 1;
        js[1] = off + total;
    }
    for (int64_t i = 0; i < n1; i++) tmp[i] = t[imod(s1 + i, m)];
    for (int64_t i = 0; i < n2; i++) tmp[n1 + i] = t[imod(s2 + i, m)];
    for (int64_t i = 0; i < total; i++) {
        int64_t idx = imod(start + i, m);
        int64_t v = tmp[i];
        t[idx] = v;
        p[v] = idx;
    }
    return 1;
}

static void undo(Search *s) {
    int64_t *t = s->t, *p = s->p, *js = s->js;
    int64_t m = s->m;
    for (int64_t e = js[0] - 1; e >= 0; e--) {
        int64_t start = s->jmeta[e * 3 + 0], total = s->jmeta[e * 3 + 1];
        int64_t off = s->jmeta[e * 3 + 2];
        for (int64_t i = 0; i < total; i++) {
            int64_t idx = imod(start + i, m);
            int64_t v = s->jbuf[off + i];
            t[idx] = v;
            p[v] = idx;
        }
    }
    js[0] = 0;
    js[1] = 0;
}

static inline void push(Search *s, int64_t v) {
    if (s->inq[v] == 0) {
        s->inq[v] = 1;
        s->queue[imod(s->qs[0] + s->qs[1], s->m)] = v;
        s->qs[1] += 1;
    }
}

static void push_move(Search *s, int64_t a, int64_t b, int64_t c) {
    int64_t vs[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        int64_t v = vs[i];
        push(s, v);
        push(s, succ(s->t, s->p, v, s->m));
        push(s, pred(s->t, s->p, v, s->m));
    }
}

/* Best improving move touching the edge a -> a'; (gain, a, b, c, reversed) as numba's. */
static double best_move(const Search *s, int64_t a, int64_t *ra, int64_t *rb, int64_t *rc,
                        int64_t *rrev) {
    const int64_t *t = s->t, *p = s->p, *out_nb = s->out_nb, *in_nb = s->in_nb;
    int64_t m = s->m, k = s->k, dummy = s->dummy;
    int use_arc = (int)s->use_arc;
    int64_t a1 = succ(t, p, a, m);
    double d_aa1 = cst(s, a, a1);
    double best = EPS;
    int64_t ba = -1, bb = -1, bc = -1, brev = 0;
    for (int64_t i = 0; i < k; i++) {
        int64_t b1 = out_nb[a * k + i];
        double g1 = d_aa1 - cst(s, a, b1);
        if (g1 <= EPS) break;
        if (b1 == a1 || b1 == a) continue;
        int64_t b = pred(t, p, b1, m);
        int64_t rb1 = rel(p, b1, a, m);
        double g1b = g1 + cst(s, b, b1);
        for (int64_t j = 0; j < k; j++) {
            int64_t c = in_nb[a1 * k + j];
            double g2 = g1b - cst(s, c, a1);
            if (g2 <= -SLACK2) break;
            if (c == a) continue;
            if (rel(p, c, a, m) < rb1) continue;
            double g = move_gain(s, a, b, c);
            if (g > best) { best = g; ba = a; bb = b; bc = c; brev = 0; }
        }
        for (int64_t j = 0; j < k; j++) {
            int64_t c1 = out_nb[b * k + j];
            double g2 = g1b - cst(s, b, c1);
            if (g2 <= -SLACK2) break;
            int64_t c = pred(t, p, c1, m);
            if (c == a || rel(p, c, a, m) < rb1) continue;
            double g = move_gain(s, a, b, c);
            if (g > best) { best = g; ba = a; bb = b; bc = c; brev = 0; }
        }
    }
    for (int64_t seg = 1; seg < 4; seg++) {
        int64_t e = t[imod(p[a] + seg, m)];
        int64_t q = succ(t, p, e, m);
        if (q == a || e == a) break;
        double g0 = d_aa1 + cst(s, e, q) - cst(s, a, q);
        if (g0 <= EPS) continue;
        for (int64_t j = 0; j < k; j++) {
            int64_t x = in_nb[a1 * k + j];
            if (g0 - cst(s, x, a1) <= EPS) break;
            if (rel(p, x, a, m) <= seg) continue;
            double g = move_gain(s, a, e, x);
            if (g > best) { best = g; ba = a; bb = e; bc = x; brev = 0; }
        }
        for (int64_t j = 0; j < k; j++) {
            int64_t y = out_nb[e * k + j];
            if (g0 - cst(s, e, y) <= EPS) break;
            int64_t x = pred(t, p, y, m);
            if (rel(p, x, a, m) <= seg) continue;
            double g = move_gain(s, a, e, x);
            if (g > best) { best = g; ba = a; bb = e; bc = x; brev = 0; }
        }
        if (use_arc && a1 != dummy) {
            for (int64_t j = 0; j < s->ideal_cols; j++) {
                int64_t r = s->ideal[s->el[a1] * s->ideal_cols + j];
                if (r < 0) continue;
                int64_t x = t[imod(p[dummy] + r, m)];
                if (rel(p, x, a, m) <= seg) continue;
                double g = move_gain(s, a, e, x);
                if (g > best) { best = g; ba = a; bb = e; bc = x; brev = 0; }
            }
        }
        if (use_arc || seg < 2) continue;
        double inner = plus_reversal_gain(s, p[a] + 1, seg, 0.0);
        double gr = d_aa1 + cst(s, e, q) + inner;
        for (int side = 0; side < 2; side++) {
            for (int64_t j = 0; j < k; j++) {
                int64_t x, y;
                if (side == 0) {
                    x = in_nb[e * k + j];
                    y = succ(t, p, x, m);
                } else {
                    y = out_nb[a1 * k + j];
                    x = pred(t, p, y, m);
                }
                double g;
                if (x == a) {
                    g = gr - cst(s, a, e) - cst(s, a1, q);
                } else if (rel(p, x, a, m) > seg) {
                    g = gr - cst(s, a, q) + cst(s, x, y) - cst(s, x, e) - cst(s, a1, y);
                } else {
                    continue;
                }
                if (g > best) { best = g; ba = a; bb = e; bc = x; brev = 1; }
            }
        }
    }
    if (!use_arc) {
        for (int side = 0; side < 2; side++) {
            for (int64_t j = 0; j < k; j++) {
                int64_t c;
                if (side == 0) {
                    c = out_nb[a * k + j];
                    if (d_aa1 - cst(s, a, c) <= EPS) break;
                } else {
                    int64_t c1 = out_nb[a1 * k + j];
                    c = pred(t, p, c1, m);
                }
                int64_t length = rel(p, c, a, m);
                if (length < 2 || length > REVERSE_MAX) continue;
                int64_t c1 = succ(t, p, c, m);
                double g = d_aa1 + cst(s, c, c1) - cst(s, a, c) - cst(s, a1, c1);
                g = plus_reversal_gain(s, p[a1], length, g);
                if (g > best) { best = g; ba = a; bb = c; bc = a; brev = 1; }
            }
        }
    }
    *ra = ba; *rb = bb; *rc = bc; *rrev = brev;
    return best;
}

static void reverse_range(Search *s, int64_t start, int64_t length) {
    int64_t *t = s->t, *p = s->p, *js = s->js;
    int64_t m = s->m;
    if (js[2] == 1) {
        int64_t e = js[0];
        s->jmeta[e * 3 + 0] = start;
        s->jmeta[e * 3 + 1] = length;
        s->jmeta[e * 3 + 2] = js[1];
        for (int64_t i = 0; i < length; i++) s->jbuf[js[1] + i] = t[imod(start + i, m)];
        js[0] = e + 1;
        js[1] += length;
    }
    for (int64_t i = 0; i < length / 2; i++) {
        int64_t i1 = imod(start + i, m), i2 = imod(start + length - 1 - i, m);
        int64_t u = t[i1], w = t[i2];
        t[i1] = w;
        p[w] = i1;
        t[i2] = u;
        p[u] = i2;
    }
}

static double local_search(Search *s) {
    int64_t *t = s->t, *p = s->p, *qs = s->qs, *js = s->js;
    int64_t m = s->m;
    double total = 0.0;
    while (qs[1] > 0) {
        int64_t v = s->queue[qs[0]];
        qs[0] = imod(qs[0] + 1, m);
        qs[1] -= 1;
        s->inq[v] = 0;
        int improved = 1;
        while (improved) {
            improved = 0;
            for (int side = 0; side < 2; side++) {
                int64_t a = side == 0 ? v : pred(t, p, v, m);
                int64_t ma, mb, mc, rev;
                double g = best_move(s, a, &ma, &mb, &mc, &rev);
                if (ma < 0) continue;
                if (rev == 1) {
                    int room = js[0] + 2 <= s->j_rows && js[1] + m + REVERSE_MAX <= s->j_len;
                    if (js[2] == 1 && !room) continue;
                    int64_t first = succ(t, p, ma, m);
                    if (mc != ma) apply_move(s, ma, mb, mc);
                    int64_t length = rel(p, mb, first, m) + 1;
                    reverse_range(s, p[first], length);
                    push(s, first);
                } else if (!apply_move(s, ma, mb, mc)) {
                    continue;
                }
                total += g;
                push_move(s, ma, mb, mc);
                improved = 1;
                break;
            }
        }
    }
    return total;
}

double djs_tour_cost(const Search *s, const int64_t *t, const int64_t *p) {
    int64_t m = s->m;
    double total = 0.0;
    for (int64_t i = 0; i < m; i++) total += cst(s, t[i], t[imod(i + 1, m)]);
    if (s->use_arc) {
        int64_t start = p[s->dummy] + 1;
        for (int64_t r = 0; r < m - 1; r++) {
            int64_t kk = t[imod(start + r, m)];
            total += s->W[s->el[kk] * s->w_cols + r];
        }
    }
    return total;
}

static double reverse_kick(Search *s, uint64_t *rng, int64_t seg_cap) {
    int64_t *t = s->t, *p = s->p;
    int64_t m = s->m, dummy = s->dummy;
    int64_t cap = seg_cap * 2 - 1;
    int64_t length = 2 + rnd(rng, cap > 1 ? cap : 1);
    if (length > m - 3) length = m - 3;
    int64_t r, base;
    for (;;) {
        r = 1 + rnd(rng, m - length - 1);
        base = p[dummy];
        int ok = 1;
        for (int64_t i = 0; i < length + 2; i++)
            if (t[imod(base + r + i, m)] == dummy) ok = 0;
        if (ok) break;
    }
    int64_t start = imod(base + r + 1, m);
    int64_t a = t[imod(start - 1 + m, m)];
    int64_t d = t[imod(start + length, m)];
    int64_t first = t[start];
    int64_t last = t[imod(start + length - 1, m)];
    double g = cst(s, a, first) + cst(s, last, d) - cst(s, a, last) - cst(s, first, d);
    g = plus_reversal_gain(s, start, length, g);
    if (s->use_arc) {
        int64_t q0 = r;
        for (int64_t i = 0; i < length; i++) {
            int64_t x = t[imod(start + i, m)];
            int64_t row = s->el[x] * s->w_cols;
            g -= s->W[row + q0 + length - 1 - i] - s->W[row + q0 + i];
        }
    }
    reverse_range(s, start, length);
    for (int64_t i = 0; i < length; i++) push(s, t[imod(start + i, m)]);
    push(s, a);
    push(s, d);
    return g;
}

void djs_ils_chunk(Search *s, int64_t *best_t, double *state, int64_t *counters, uint64_t *rng,
                   int64_t kicks, int64_t max_seg, double slack, int64_t pinned_start,
                   int64_t pinned_end) {
    int64_t *t = s->t, *p = s->p, *js = s->js;
    int64_t m = s->m, n = m - 1, dummy = s->dummy;
    int64_t seg_cap = (n - 2) / 3;
    if (max_seg < seg_cap) seg_cap = max_seg;
    if (seg_cap < 1) return;
    for (int64_t kick = 0; kick < kicks; kick++) {
        js[0] = 0;
        js[1] = 0;
        js[2] = 1;
        double g;
        if (rnd(rng, 4) == 0) {
            g = reverse_kick(s, rng, seg_cap);
        } else {
            int64_t l1 = 1 + rnd(rng, seg_cap);
            int64_t l2 = 1 + rnd(rng, seg_cap);
            int64_t a, b, c;
            for (;;) {
                int64_t r = rnd(rng, m);
                a = t[r];
                b = t[imod(r + l1, m)];
                c = t[imod(r + l1 + l2, m)];
                if (pinned_start && (a == dummy || b == dummy || c == dummy)) continue;
                if (a == pinned_end || b == pinned_end || c == pinned_end) continue;
                break;
            }
            g = move_gain(s, a, b, c);
            apply_move(s, a, b, c);
            push_move(s, a, b, c);
        }
        double gain = local_search(s);
        double fresh = state[0] - g - gain;
        counters[0] += 1;
        if (fresh <= state[0] + 1e-12 || fresh <= state[1] + slack) {
            state[0] = fresh;
            if (fresh < state[1] - 1e-9) {
                state[1] = fresh;
                counters[1] = counters[0];
                for (int64_t i = 0; i < m; i++) best_t[i] = t[i];
            }
        } else {
            undo(s);
        }
        js[2] = 0;
    }
    (void)p;
}

double djs_initial_search(Search *s) {
    s->js[2] = 0;
    for (int64_t v = 0; v < s->m; v++) push(s, s->t[v]);
    return local_search(s);
}
