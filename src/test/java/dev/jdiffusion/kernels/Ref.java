package dev.jdiffusion.kernels;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Plain scalar reference implementations of every kernel (double accumulation, no blocking, no threads),
 * plus the comparison used by the kernel tests.
 *
 * <p>Tolerance policy: a dot product of length K in float has a rounding error of about
 * eps * sqrt(K) * sum|terms| (random walk), eps = 6e-8. The references return, next to each value, its
 * magnitude m = sum of |terms|; an element passes when |got - want| <= REL * sqrt(K + 1) * m + ABS_FLOOR with
 * REL = 1e-6 (about 16x the expected error). Element-wise kernels use REL * (|want| + 1e-6).
 */
final class Ref {
    private Ref() {}

    static final double REL = 1e-6;

    static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat() * 2f - 1f;
        return a;
    }

    static float[] randn(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    /** Checks got against want element by element with tol[i]; names the first failing index. */
    static void check(String label, double[] want, double[] tol, float[] got, int gotOff) {
        double maxErr = 0;
        for (int i = 0; i < want.length; i++) {
            double e = Math.abs(got[gotOff + i] - want[i]);
            if (!(e <= tol[i])) fail(label + ": element " + i + " got " + got[gotOff + i] + " want " + want[i] + " (err " + e + " > tol " + tol[i] + ")");
            maxErr = Math.max(maxErr, e);
        }
    }

    /** Tolerance for dot products of length k with magnitudes mag. */
    static double[] dotTol(double[] mag, int k) {
        double[] t = new double[mag.length];
        for (int i = 0; i < t.length; i++) t[i] = REL * Math.sqrt(k + 1.0) * mag[i] + 1e-30;
        return t;
    }

    /** Tolerance for element-wise results. */
    static double[] elemTol(double[] want, double rel) {
        double[] t = new double[want.length];
        for (int i = 0; i < t.length; i++) t[i] = rel * (Math.abs(want[i]) + 1e-6);
        return t;
    }

    static double[] toDouble(float[] a, int off, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = a[off + i];
        return d;
    }

    // ---- GEMM ----

    /** Returns {value, magnitude} arrays for the M x N result (row-major, dense), C read with ldc at cOff. */
    static double[][] sgemm(boolean ta, boolean tb, int M, int N, int K, float alpha, float[] a, int aOff, int lda,
                            float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        double[] v = new double[M * N], m = new double[M * N];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double av = ta ? a[aOff + k * lda + i] : a[aOff + i * lda + k];
                    double bv = tb ? b[bOff + j * ldb + k] : b[bOff + k * ldb + j];
                    s += av * bv;
                    mag += Math.abs(av * bv);
                }
                double cv = beta == 0f ? 0 : (double) beta * c[cOff + i * ldc + j];
                v[i * N + j] = alpha * s + cv;
                m[i * N + j] = Math.abs(alpha) * mag + Math.abs(cv);
            }
        return new double[][] {v, m};
    }

    static double[][] linear(float[] x, int rows, float[] w, int out, int in, float[] bias) {
        double[] v = new double[rows * out], m = new double[rows * out];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double s = bias == null ? 0 : bias[o], mag = Math.abs(s);
                for (int i = 0; i < in; i++) {
                    double p = (double) x[r * in + i] * w[o * in + i];
                    s += p;
                    mag += Math.abs(p);
                }
                v[r * out + o] = s;
                m[r * out + o] = mag;
            }
        return new double[][] {v, m};
    }

    // ---- Conv2d ----

    static double[][] conv2d(float[] x, int n, int cin, int h, int w, float[] wt, int cout, int kh, int kw, float[] bias,
                             int stride, int pt, int pl, int pb, int pr) {
        int oh = (h + pt + pb - kh) / stride + 1, ow = (w + pl + pr - kw) / stride + 1;
        double[] v = new double[n * cout * oh * ow], m = new double[v.length];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        double s = bias == null ? 0 : bias[o], mag = Math.abs(s);
                        for (int c = 0; c < cin; c++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) {
                                    int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    double p = (double) x[((b * cin + c) * h + iy) * w + ix] * wt[((o * cin + c) * kh + ky) * kw + kx];
                                    s += p;
                                    mag += Math.abs(p);
                                }
                        int idx = ((b * cout + o) * oh + oy) * ow + ox;
                        v[idx] = s;
                        m[idx] = mag;
                    }
        return new double[][] {v, m};
    }

    // ---- norms ----

    static double silu(double x) { return x / (1 + Math.exp(-x)); }

    static double[] groupNorm(float[] x, int n, int c, int hw, int groups, float[] gamma, float[] beta, double eps, boolean silu) {
        double[] y = new double[n * c * hw];
        int cpg = c / groups;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                int base = (b * c + g * cpg) * hw, len = cpg * hw;
                double s = 0;
                for (int i = 0; i < len; i++) s += x[base + i];
                double mean = s / len, sq = 0;
                for (int i = 0; i < len; i++) sq += (x[base + i] - mean) * (x[base + i] - mean);
                double inv = 1 / Math.sqrt(sq / len + eps);
                for (int i = 0; i < len; i++) {
                    int ch = g * cpg + i / hw;
                    double v = (x[base + i] - mean) * inv * (gamma == null ? 1 : gamma[ch]) + (beta == null ? 0 : beta[ch]);
                    y[base + i] = silu ? silu(v) : v;
                }
            }
        return y;
    }

    static double[] layerNorm(float[] x, int rows, int dim, float[] gamma, float[] beta, double eps) {
        double[] y = new double[rows * dim];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = 0; i < dim; i++) s += x[r * dim + i];
            double mean = s / dim, sq = 0;
            for (int i = 0; i < dim; i++) sq += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
            double inv = 1 / Math.sqrt(sq / dim + eps);
            for (int i = 0; i < dim; i++)
                y[r * dim + i] = (x[r * dim + i] - mean) * inv * (gamma == null ? 1 : gamma[i]) + (beta == null ? 0 : beta[i]);
        }
        return y;
    }

    static double[] softmaxRow(double[] s, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, s[i]);
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += p[i] = Math.exp(s[i] - max);
        for (int i = 0; i < n; i++) p[i] /= sum;
        return p;
    }

    /** Attention reference; returns {value, magnitude = sum_j p_j |v_j|}. Causal masks j > i (top-left aligned). */
    static double[][] attention(float[] q, float[] k, float[] v, int batch, int heads, int lq, int lk, int d, boolean causal, float scale) {
        int dm = heads * d;
        double[] out = new double[batch * lq * dm], mag = new double[out.length];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < lq; i++) {
                    int n = causal ? Math.min(lk, i + 1) : lk;
                    double[] s = new double[n];
                    for (int j = 0; j < n; j++) {
                        double dot = 0;
                        for (int t = 0; t < d; t++) dot += (double) q[(b * lq + i) * dm + h * d + t] * k[(b * lk + j) * dm + h * d + t];
                        s[j] = dot * scale;
                    }
                    double[] p = softmaxRow(s, n);
                    for (int t = 0; t < d; t++) {
                        double acc = 0, m = 0;
                        for (int j = 0; j < n; j++) {
                            double vv = v[(b * lk + j) * dm + h * d + t];
                            acc += p[j] * vv;
                            m += p[j] * Math.abs(vv);
                        }
                        out[(b * lq + i) * dm + h * d + t] = acc;
                        mag[(b * lq + i) * dm + h * d + t] = m;
                    }
                }
        return new double[][] {out, mag};
    }

    // ---- activations ----

    /** erf of a non-negative argument below 2.5 by its Maclaurin series. */
    private static double erfSeries(double ax) {
        double sum = 0, term = ax;
        for (int n = 0; n < 400; n++) {
            double t = term / (2 * n + 1);
            sum += t;
            term *= -ax * ax / (n + 1);
            if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    /** erfc of a non-negative argument: 1 - series below 2.5, else the continued fraction (Lentz). */
    static double erfc(double ax) {
        if (ax < 2.5) return 1 - erfSeries(ax);
        double f = ax, c = ax, dd = 0, tiny = 1e-300;
        for (int n = 1; n < 2000; n++) {
            double an = n / 2.0;
            dd = ax + an * dd;
            dd = dd == 0 ? tiny : dd;
            c = ax + an / c;
            c = c == 0 ? tiny : c;
            dd = 1 / dd;
            double delta = c * dd;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
    }

    static double erf(double x) {
        double ax = Math.abs(x);
        return Math.signum(x) * (ax < 2.5 ? erfSeries(ax) : 1 - erfc(ax));
    }

    /** Exact GELU; for negative x through erfc, so the tail keeps its relative precision. */
    static double gelu(double x) {
        double z = x / Math.sqrt(2);
        return z >= 0 ? 0.5 * x * (1 + erf(z)) : 0.5 * x * erfc(-z);
    }

    static double quickGelu(double x) { return x / (1 + Math.exp(-1.702 * x)); }

    static double[] upsampleNearest(float[] x, int n, int c, int h, int w, int oh, int ow) {
        // PyTorch's rule: scale = (float) in / out; src = min(floor(dst * scale), in - 1), computed in float.
        float sy = (float) h / oh, sx = (float) w / ow;
        double[] y = new double[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    int iy = Math.min((int) Math.floor(oy * sy), h - 1), ix = Math.min((int) Math.floor(ox * sx), w - 1);
                    y[(p * oh + oy) * ow + ox] = x[(p * h + iy) * w + ix];
                }
        return y;
    }
}
