package dev.jdiffusion.sampling;

/**
 * Noise levels sigma(t) = sqrt((1 - alphas_cumprod[t]) / alphas_cumprod[t]) and the conversions between sigmas and
 * (fractional) timesteps used by Euler and DPM-Solver, in the precisions diffusers uses (float32 tables, numpy
 * float64 interpolation).
 */
final class Sigmas {
    private Sigmas() {}

    /** sigma for every training timestep, in float32 arithmetic. */
    static float[] trainSigmas(float[] alphasCumprod) {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) s[i] = (float) Math.sqrt((1.0f - alphasCumprod[i]) / alphasCumprod[i]);
        return s;
    }

    /** np.log of a float32 table (float32 results). */
    static float[] log(float[] sigmas) {
        float[] l = new float[sigmas.length];
        for (int i = 0; i < l.length; i++) l[i] = (float) Math.log(sigmas[i]);
        return l;
    }

    /** np.interp(x, arange(len(fp)), fp) for x in [0, len-1]. */
    static double interp(double x, float[] fp) {
        int last = fp.length - 1;
        if (x <= 0) return fp[0];
        if (x >= last) return fp[last];
        int j = (int) Math.floor(x);
        if (x == j) return fp[j];
        double slope = ((double) fp[j + 1] - fp[j]) / 1.0;
        return slope * (x - j) + fp[j];
    }

    /** Karras et al. (2022) spacing with rho = 7 between sigmaMax and sigmaMin (numpy float64). */
    static double[] karras(double sigmaMin, double sigmaMax, int n) {
        double rho = 7.0;
        double minInv = Math.pow(sigmaMin, 1 / rho), maxInv = Math.pow(sigmaMax, 1 / rho);
        double[] ramp = Spacing.linspace(0, 1, n);
        double[] s = new double[n];
        for (int i = 0; i < n; i++) s[i] = Math.pow(maxInv + ramp[i] * (minInv - maxInv), rho);
        return s;
    }

    /** diffusers' _sigma_to_t: the fractional timestep whose log-sigma interpolates to log(sigma). */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        // last index whose log-sigma <= logSigma (0 when none), clipped to len-2
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
        low = Math.min(low, logSigmas.length - 2);
        int high = low + 1;
        float lo = logSigmas[low], hi = logSigmas[high];
        double w = (lo - logSigma) / (double) (lo - hi);
        w = Math.min(Math.max(w, 0), 1);
        return (1 - w) * low + w * high;
    }
}
