package dev.jdiffusion.sampling;

/**
 * Timestep spacings of diffusers' set_timesteps ("linspace", "leading", "trailing"), computed in double exactly as
 * numpy does (np.linspace, np.arange with a float step, round half to even), highest timestep first.
 */
final class Spacing {
    private Spacing() {}

    /** np.linspace(start, stop, num) (endpoint included). */
    static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[num - 1] = stop;
        return y;
    }

    /** np.arange(start, stop, step) for a float step. */
    static double[] arange(double start, double stop, double step) {
        int len = (int) Math.ceil((stop - start) / step);
        if (len <= 0) return new double[0];
        double[] y = new double[len];
        y[0] = start;
        if (len > 1) {
            double delta = (start + step) - start;
            for (int i = 1; i < len; i++) y[i] = start + i * delta;
        }
        return y;
    }

    static double[] reversed(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[a.length - 1 - i];
        return r;
    }

    static double[] rint(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = Math.rint(a[i]);
        return r;
    }

    /**
     * The timesteps of DDIM / Euler / Euler ancestral for {@code n} steps: linspace over [0, T-1]; leading multiples of
     * T // n plus steps_offset; trailing from T down by T / n, minus one. Integer-valued except "linspace" for Euler,
     * where diffusers keeps the fractions ({@code rounded} false).
     */
    static double[] timesteps(String spacing, int trainSteps, int n, int stepsOffset, boolean roundLinspace, String who) {
        switch (spacing) {
            case "linspace": {
                double[] t = reversed(linspace(0, trainSteps - 1, n));
                return roundLinspace ? rint(t) : t;
            }
            case "leading": {
                int ratio = trainSteps / n;
                double[] t = new double[n];
                for (int i = 0; i < n; i++) t[i] = (double) (n - 1 - i) * ratio + stepsOffset;
                return t;
            }
            case "trailing": {
                double[] t = rint(arange(trainSteps, 0, -(double) trainSteps / n));
                for (int i = 0; i < t.length; i++) t[i] -= 1;
                return t;
            }
            default:
                throw new IllegalArgumentException(who + ": timestep_spacing \"" + spacing + "\" is not supported (linspace, leading, trailing)");
        }
    }
}
