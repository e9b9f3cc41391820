package dev.jdiffusion.model.taesd;

import dev.jdiffusion.model.unet.Conv;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One half (encoder or decoder) of a TAESD-family autoencoder: an {@code nn.Sequential} rebuilt from the weights.
 * Entries with {@code N.weight} are convs, entries with {@code N.conv.0.weight} are {@link TaesdBlock}s, and the
 * indices without weights are the parameter-free layers, told apart by where they stand:
 * <ul>
 *   <li>decoder index 0: {@link Clamp} (diffusers' {@code DecoderTiny} applies it outside its layers; see implicitClamp);</li>
 *   <li>after a conv: ReLU;</li>
 *   <li>after a block (decoder): nearest 2x upsample.</li>
 * </ul>
 * Encoder convs that downsample are the bias-free ones ({@code conv(64, 64, stride=2, bias=False)}) and those followed
 * by a ReLU (the F32 variant's stem {@code conv(3, 32, stride=2), ReLU}); the others keep the size. This covers
 * TAESD, TAESDXL, TAESD3, TAEF1, TAEF2 (mid-block GroupNorm branch) and the F32 variants, whatever the file is named.
 */
final class TaesdNet {
    enum Role { ENCODER, DECODER }

    private final Role role;
    private final List<TaesdLayer> layers;
    private final String description;

    private TaesdNet(Role role, List<TaesdLayer> layers, String description) {
        this.role = role;
        this.layers = layers;
        this.description = description;
    }

    /**
     * Builds the Sequential from the tensors named {@code prefix + "N." + ...}.
     *
     * @param implicitClamp true for diffusers' AutoencoderTiny naming, whose decoder layers omit the leading Clamp
     */
    static TaesdNet build(TensorSource s, String prefix, Role role, boolean implicitClamp) {
        String where = s.description() + (prefix.isEmpty() ? "" : " [" + prefix + "*]");
        Map<Integer, Set<String>> entries = new TreeMap<>();
        for (String n : s.names()) {
            if (!n.startsWith(prefix)) continue;
            String r = n.substring(prefix.length());
            int dot = r.indexOf('.');
            if (dot <= 0 || !r.substring(0, dot).chars().allMatch(Character::isDigit))
                throw new ModelFormatException(where + ": tensor " + n + " is not a TAESD Sequential entry (N.weight, N.conv.K.weight ...)");
            entries.computeIfAbsent(Integer.parseInt(r.substring(0, dot)), k -> new TreeSet<>()).add(r.substring(dot + 1));
        }
        if (entries.isEmpty()) throw new ModelFormatException(where + ": no TAESD layers (tensors N.weight, N.conv.0.weight ...)");
        int last = ((TreeMap<Integer, Set<String>>) entries).lastKey();
        char[] kind = new char[last + 1]; // 'c' conv, 'b' block, '-' no weights
        for (int i = 0; i <= last; i++) {
            Set<String> e = entries.get(i);
            if (e == null) kind[i] = '-';
            else if (e.contains("conv.0.weight")) kind[i] = 'b';
            else if (e.contains("weight") && e.stream().allMatch(x -> x.equals("weight") || x.equals("bias"))) kind[i] = 'c';
            else throw new ModelFormatException(where + ": entry " + i + " holds " + e + ": neither a conv (weight, bias) nor a block (conv.0.weight ...)");
        }
        List<TaesdLayer> layers = new ArrayList<>();
        if (implicitClamp && role == Role.DECODER) layers.add(Clamp.INSTANCE);
        for (int i = 0; i <= last; i++) {
            String p = prefix + i + ".";
            switch (kind[i]) {
                case 'b' -> layers.add(TaesdBlock.load(s, p));
                case 'c' -> {
                    boolean bias = s.contains(p + "bias");
                    boolean reluNext = i < last && kind[i + 1] == '-';
                    int stride = role == Role.ENCODER && (!bias || reluNext) && i < last ? 2 : 1;
                    layers.add(new ConvStep(Conv.load(s, p.substring(0, p.length() - 1), stride)));
                }
                default -> {
                    if (i == 0 && role == Role.DECODER) layers.add(Clamp.INSTANCE);
                    else if (i > 0 && kind[i - 1] == 'c') layers.add(Relu.INSTANCE);
                    else if (i > 0 && kind[i - 1] == 'b' && role == Role.DECODER) layers.add(Upsample2x.INSTANCE);
                    else throw new ModelFormatException(where + ": cannot tell what weightless entry " + i + " is (after "
                                + (i == 0 ? "nothing" : kind[i - 1] == 'b' ? "a block" : "a gap") + " in the " + role.name().toLowerCase() + ")");
                }
            }
        }
        TaesdNet net = new TaesdNet(role, List.copyOf(layers), where);
        net.checkChannels(s);
        return net;
    }

    private void checkChannels(TensorSource s) {
        int ch = -1;
        for (TaesdLayer l : layers) {
            if (l.inChannels() > 0) {
                if (ch > 0 && l.inChannels() != ch)
                    throw new ModelFormatException(description + ": layer " + l + " takes " + l.inChannels() + " channels but gets " + ch);
                ch = l.outChannels();
            }
        }
        if (ch < 1) throw new ModelFormatException(description + ": no conv layers");
    }

    Role role() { return role; }

    int inChannels() {
        for (TaesdLayer l : layers) if (l.inChannels() > 0) return l.inChannels();
        throw new IllegalStateException();
    }

    int outChannels() {
        for (int i = layers.size() - 1; i >= 0; i--) if (layers.get(i).outChannels() > 0) return layers.get(i).outChannels();
        throw new IllegalStateException();
    }

    /** Output side for an input side (encoder: smaller, decoder: larger). */
    int outSize(int side) {
        for (TaesdLayer l : layers) side = l.outSize(side);
        return side;
    }

    /** Operations for one input of h x w. */
    long flops(int h, int w) {
        long f = 0;
        for (TaesdLayer l : layers) {
            f += l.flops(h, w);
            h = l.outSize(h);
            w = l.outSize(w);
        }
        return f;
    }

    Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != inChannels())
            throw new IllegalArgumentException(description + ": expected input [n, " + inChannels() + ", h, w], got " + Arrays.toString(x.shape()));
        Tensor h = x;
        boolean owned = false;
        for (TaesdLayer l : layers) {
            if (l instanceof Relu && !owned) h = new Tensor(h.data().clone(), h.shape());
            h = l.forward(h);
            owned = true;
        }
        return h;
    }

    /** The layer list, one per line, for diagnostics. */
    String describe() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < layers.size(); i++) b.append(i).append(": ").append(layers.get(i)).append('\n');
        return b.toString();
    }
}
