package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.Inpainting;
import dev.jdiffusion.sampling.Schedulers;
import dev.jdiffusion.tensor.Tensor;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The AUTOMATIC1111 web UI's API shapes: request fields to a {@link Spec}, sampler names, the {@code info} JSON, and
 * the parameters text parsed back for {@code png-info}. No model logic: a Spec becomes plain
 * {@code GenerationRequest}s.
 */
final class A1111 {
    private A1111() {}

    static final ObjectMapper JSON = new ObjectMapper();

    /** A1111's sampler names and the engine's, in the order {@code /sdapi/v1/samplers} lists them. */
    static final Map<String, String> SAMPLERS = samplers();

    private static Map<String, String> samplers() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String engine : List.of("euler_a", "euler", "ddim", "dpmpp_2m", "dpmpp_2m_karras", "lcm"))
            m.put(displayName(engine), engine);
        return java.util.Collections.unmodifiableMap(m);
    }

    /** The A1111 name of an engine sampler name (the one naming, {@link Schedulers#displayName}). */
    static String displayName(String engine) { return Schedulers.displayName(engine); }


    /** A LoRA named in the prompt as {@code <lora:name:weight>}. */
    record LoraRef(String name, float weight) {}

    /**
     * One txt2img or img2img request, checked against the limits.
     *
     * @param model    the checkpoint {@code override_settings.sd_model_checkpoint} names, or null for the loaded one
     * @param seed     first image's seed; image i uses seed + i, as A1111 does
     * @param images   batch_size x n_iter: each image is its own generation (so each equals its solo run)
     * @param init     img2img init image [1, 3, H, W] at the request's size, or null
     * @param mask     img2img inpainting mask [1, 1, H, W] at the request's size (white = repaint), or null
     * @param loras    the prompt's {@code <lora:NAME:WEIGHT>} tags (they stay in the prompt: the engine applies them)
     * @param warnings fields ignored, for {@code info}
     */
    record Spec(String prompt, String negative, String sampler, int steps, float cfg, int width, int height, long seed,
                int batchSize, int nIter, int clipSkip, float eta, float strength, Tensor init, Tensor mask, int maskBlur,
                String model, List<LoraRef> loras, List<String> warnings, ObjectNode echo) {
        int images() { return batchSize * nIter; }
    }

    /** Fields read or knowingly without effect (a client's defaults): no warning. */
    private static final Set<String> KNOWN = Set.of("prompt", "negative_prompt", "seed", "sampler_name", "sampler_index",
            "scheduler", "steps", "cfg_scale", "width", "height", "batch_size", "n_iter", "eta", "override_settings",
            "override_settings_restore_afterwards", "send_images", "save_images", "do_not_save_samples", "do_not_save_grid",
            "init_images", "denoising_strength", "mask", "include_init_images", "resize_mode", "force_task_id", "infotext",
            "comments", "disable_extra_networks", "subseed", "script_args", "mask_blur", "mask_blur_x", "mask_blur_y",
            "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding", "inpainting_mask_invert", "initial_noise_multiplier",
            "firstphase_width", "firstphase_height", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y",
            "hr_sampler_name", "hr_scheduler", "hr_prompt", "hr_negative_prompt", "hr_checkpoint_name", "hr_additional_modules",
            "seed_resize_from_h", "seed_resize_from_w", "s_min_uncond", "s_churn", "s_tmax", "s_tmin", "s_noise",
            "refiner_switch_at", "latent_mask", "image_cfg_scale", "sampler_noise_scheduler_override", "user");

    /** Unsupported fields that would change the image when set: a 422 rather than a silently different picture. */
    private static final Map<String, String> CHANGES_IMAGE = Map.of(
            "enable_hr", "hires fix (enable_hr) is not supported",
            "restore_faces", "face restoration (restore_faces) is not supported",
            "tiling", "tiling is not supported",
            "subseed_strength", "variation seeds (subseed_strength) are not supported",
            "styles", "prompt styles are not supported; put the style's text in the prompt",
            "script_name", "scripts (script_name) are not supported",
            "alwayson_scripts", "always-on scripts are not supported",
            "refiner_checkpoint", "refiner models are not supported");

    /** Reads a txt2img (init == false) or img2img request. */
    static Spec parse(ObjectNode body, boolean img2img, ServerConfig limits, Set<String> knownLoras) {
        List<String> warnings = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String k = f.getKey();
            JsonNode v = f.getValue();
            if (CHANGES_IMAGE.containsKey(k)) {
                if (!neutral(v)) throw HttpError.invalid(CHANGES_IMAGE.get(k) + " (got " + k + ": " + brief(v) + ")");
            } else if (!KNOWN.contains(k) && !neutral(v)) {
                warnings.add("field '" + k + "' is not supported and was ignored");
            }
        }
        String prompt = str(body, "prompt", "");
        String negative = str(body, "negative_prompt", "");
        List<LoraRef> loras = new ArrayList<>(), negativeLoras = new ArrayList<>();
        extractLoras(prompt, loras); // checked here; the engine applies them from the prompt
        negative = extractLoras(negative, negativeLoras);
        for (LoraRef l : negativeLoras) warnings.add("<lora:" + l.name() + "> in the negative prompt was ignored (LoRA tags apply in the prompt)");
        for (LoraRef l : loras)
            if (knownLoras != null && !knownLoras.contains(l.name()))
                throw new HttpError(404, "LoraNotFound", "LoRA '" + l.name() + "' not found (known: "
                        + (knownLoras.isEmpty() ? "none; give --lora-dir" : String.join(", ", knownLoras)) + ")");

        String sampler = sampler(str(body, "sampler_name", null), str(body, "sampler_index", null), str(body, "scheduler", null));
        int steps = integer(body, "steps", 0);
        if (body.has("steps") && !body.get("steps").isNull() && (steps < 1 || steps > limits.maxSteps()))
            throw HttpError.invalid("steps must be between 1 and " + limits.maxSteps() + " (--max-steps), got " + steps);
        float cfg = body.hasNonNull("cfg_scale") ? number(body, "cfg_scale", 0f) : Float.NaN;
        if (!Float.isNaN(cfg) && !(cfg >= 0 && cfg <= 100)) throw HttpError.invalid("cfg_scale must be between 0 and 100, got " + cfg);
        int width = integer(body, "width", 0), height = integer(body, "height", 0);
        checkSide("width", width, limits);
        checkSide("height", height, limits);
        int batchSize = integer(body, "batch_size", 1), nIter = integer(body, "n_iter", 1);
        if (batchSize < 1 || nIter < 1) throw HttpError.invalid("batch_size and n_iter must be at least 1, got " + batchSize + " and " + nIter);
        if ((long) batchSize * nIter > limits.maxImages())
            throw HttpError.invalid("batch_size x n_iter is " + ((long) batchSize * nIter) + " images; at most " + limits.maxImages() + " per request (--max-images)");
        long seed = body.hasNonNull("seed") ? longValue(body, "seed") : -1;
        if (seed < -1) throw HttpError.invalid("seed must be -1 (random) or a non-negative integer, got " + seed);
        if (seed == -1) seed = new SecureRandom().nextLong() & 0xffffffffL;
        float eta = body.hasNonNull("eta") ? number(body, "eta", 0f) : 0f;
        if (!(eta >= 0 && eta <= 1)) throw HttpError.invalid("eta must be between 0 and 1, got " + eta);
        if (eta > 0 && !"ddim".equals(sampler)) {
            warnings.add("eta applies to DDIM only and was ignored");
            eta = 0;
        }

        String model = null;
        int clipSkip = 1;
        JsonNode over = body.get("override_settings");
        if (over != null && !over.isNull()) {
            if (!over.isObject()) throw HttpError.invalid("override_settings must be an object");
            for (Iterator<Map.Entry<String, JsonNode>> it = over.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                switch (f.getKey()) {
                    case "sd_model_checkpoint" -> model = f.getValue().isNull() ? null : f.getValue().asText();
                    case "CLIP_stop_at_last_layers" -> clipSkip = integer((ObjectNode) over, "CLIP_stop_at_last_layers", 1);
                    default -> { if (!neutral(f.getValue())) warnings.add("override setting '" + f.getKey() + "' is not supported and was ignored"); }
                }
            }
            if (clipSkip < 1 || clipSkip > 12) throw HttpError.invalid("CLIP_stop_at_last_layers must be between 1 and 12, got " + clipSkip);
        }

        float strength = 0.75f;
        Tensor init = null, mask = null;
        int maskBlur = 4;
        if (img2img) {
            strength = body.hasNonNull("denoising_strength") ? number(body, "denoising_strength", 0.75f) : 0.75f;
            if (!(strength > 0 && strength <= 1)) throw HttpError.invalid("denoising_strength must be in (0, 1], got " + strength);
            JsonNode imgs = body.get("init_images");
            if (imgs == null || !imgs.isArray() || imgs.isEmpty() || !imgs.get(0).isTextual())
                throw HttpError.invalid("img2img needs init_images: a list with one base64 image");
            if (imgs.size() > 1) warnings.add("only the first of " + imgs.size() + " init_images is used");
            int resize = integer(body, "resize_mode", 0);
            if (resize != 0) throw HttpError.invalid("resize_mode " + resize + " is not supported; send 0 (just resize) or an image of the requested size");
            BufferedImage img = decodeImage(imgs.get(0).asText(), "init_images[0]", limits.maxSide() * 2);
            if (width == 0) width = Math.max(8, img.getWidth() / 8 * 8);
            if (height == 0) height = Math.max(8, img.getHeight() / 8 * 8);
            checkSide("width", width, limits);
            checkSide("height", height, limits);
            init = Images.fromBufferedImage(resize(img, width, height));
            if (body.hasNonNull("mask")) {
                if (!body.get("mask").isTextual()) throw HttpError.invalid("mask must be a base64 image");
                mask = Inpainting.maskFromImage(Images.fromBufferedImage(resize(decodeImage(body.get("mask").asText(), "mask", limits.maxSide() * 2), width, height)));
                if (integer(body, "inpainting_mask_invert", 0) != 0) {
                    float[] m = mask.data();
                    for (int i = 0; i < m.length; i++) m[i] = 1f - m[i];
                }
                maskBlur = integer(body, "mask_blur", 4);
                if (maskBlur < 0 || maskBlur > 64) throw HttpError.invalid("mask_blur must be between 0 and 64, got " + maskBlur);
                int fill = integer(body, "inpainting_fill", 1);
                if (fill != 1) warnings.add("inpainting_fill " + fill + " is not supported; the masked area starts from the original (1)");
                if (body.path("inpaint_full_res").asBoolean(false) || body.path("inpaint_full_res").asInt(0) == 1)
                    warnings.add("inpaint_full_res is not supported; the whole image is inpainted");
            }
        }

        ObjectNode echo = body.deepCopy();
        if (img2img && !body.path("include_init_images").asBoolean(false)) {
            echo.putNull("init_images");
            echo.putNull("mask");
        }
        return new Spec(prompt, negative, sampler, steps, cfg, width, height, seed, batchSize, nIter, clipSkip, eta, strength,
                init, mask, maskBlur, model, List.copyOf(loras), List.copyOf(warnings), echo);
    }

    private static final Pattern LORA = Pattern.compile("<lora:([^:>]+)(?::([^:>]*))?(?::[^>]*)?>");

    /** Removes {@code <lora:name:weight>} tags from a text (as A1111 does), collecting them. */
    static String extractLoras(String prompt, List<LoraRef> out) {
        Matcher m = LORA.matcher(prompt);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            float w = 1f;
            if (m.group(2) != null && !m.group(2).isBlank()) {
                try {
                    w = Float.parseFloat(m.group(2).strip());
                } catch (NumberFormatException e) {
                    throw HttpError.invalid("LoRA weight in '" + m.group() + "' is not a number");
                }
                if (!Float.isFinite(w) || Math.abs(w) > 10) throw HttpError.invalid("LoRA weight in '" + m.group() + "' must be between -10 and 10");
            }
            out.add(new LoraRef(m.group(1).strip(), w));
            m.appendReplacement(sb, "");
        }
        m.appendTail(sb);
        return out.isEmpty() ? prompt : sb.toString().replaceAll("[ \\t]{2,}", " ").replaceAll("\\s*,\\s*(,\\s*)+", ", ").strip();
    }

    /** The engine's sampler for A1111's sampler (and scheduler) names, or null for the model's default. */
    static String sampler(String name, String index, String scheduler) {
        String n = name != null && !name.isBlank() ? name : index;
        if (n == null || n.isBlank()) {
            if (scheduler != null && !scheduler.isBlank() && !scheduler.equalsIgnoreCase("automatic"))
                throw unknownSampler("scheduler '" + scheduler + "' needs a sampler_name");
            return null;
        }
        String found = null;
        for (Map.Entry<String, String> e : SAMPLERS.entrySet())
            if (e.getKey().equalsIgnoreCase(n.strip()) || e.getValue().equalsIgnoreCase(n.strip())) found = e.getValue();
        if (found == null) throw unknownSampler("unknown sampler '" + n + "'");
        if (scheduler != null && !scheduler.isBlank() && !scheduler.equalsIgnoreCase("automatic")) {
            String s = scheduler.strip().toLowerCase(Locale.ROOT);
            if (s.equals("karras") && found.equals("dpmpp_2m")) found = "dpmpp_2m_karras";
            else if (!(s.equals("karras") && found.equals("dpmpp_2m_karras")))
                throw unknownSampler("scheduler '" + scheduler + "' is not supported with " + displayName(found) + " (Automatic, or Karras with DPM++ 2M)");
        }
        return found;
    }

    private static HttpError unknownSampler(String what) {
        ObjectNode extra = JSON.createObjectNode();
        ArrayNode names = extra.putArray("samplers");
        SAMPLERS.keySet().forEach(names::add);
        return new HttpError(422, "SamplerNotFound", what + " (known: " + String.join(", ", SAMPLERS.keySet()) + ")", extra, Map.of());
    }

    private static void checkSide(String name, int v, ServerConfig limits) {
        if (v == 0) return;
        if (v < 8 || v > limits.maxSide() || v % 8 != 0)
            throw HttpError.invalid(name + " must be a multiple of 8 between 8 and " + limits.maxSide() + " (--max-side), got " + v);
    }

    /**
     * Decodes a base64 image (optionally a {@code data:image/...;base64,} URL), checking its size from the header
     * before the pixels are decoded.
     */
    static BufferedImage decodeImage(String b64, String field, int maxSide) {
        byte[] bytes = base64(b64, field);
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> it = in == null ? java.util.Collections.emptyIterator() : ImageIO.getImageReaders(in);
            if (!it.hasNext()) throw HttpError.badRequest(field + " is not an image in a format this server reads (PNG, JPEG, BMP, GIF)");
            ImageReader r = it.next();
            try {
                r.setInput(in);
                int w = r.getWidth(0), h = r.getHeight(0);
                if (w < 1 || h < 1 || w > maxSide || h > maxSide)
                    throw new HttpError(413, "ImageTooLarge", field + " is " + w + "x" + h + "; sides up to " + maxSide + " are accepted");
                BufferedImage img = r.read(0);
                if (img == null) throw HttpError.badRequest(field + " could not be decoded");
                return img;
            } finally {
                r.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof HttpError h) throw h;
            throw HttpError.badRequest(field + " is not a readable image (" + e.getMessage() + ")");
        }
    }

    /** Base64 (standard or URL-safe, padding optional, data-URL prefix allowed) to bytes: 400 when malformed. */
    static byte[] base64(String s, String field) {
        String t = s.strip();
        if (t.startsWith("data:")) {
            int comma = t.indexOf(',');
            if (comma < 0 || !t.substring(0, comma).endsWith(";base64")) throw HttpError.badRequest(field + " is a data URL without ;base64,");
            t = t.substring(comma + 1);
        }
        if (t.isEmpty()) throw HttpError.badRequest(field + " is empty");
        try {
            return (t.indexOf('-') >= 0 || t.indexOf('_') >= 0 ? Base64.getUrlDecoder() : Base64.getMimeDecoder()).decode(t);
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest(field + " is not valid base64 (" + e.getMessage() + ")");
        }
    }

    /** Scales to w x h (bicubic), as A1111's "just resize"; the same image when the size matches. */
    static BufferedImage resize(BufferedImage img, int w, int h) {
        if (img.getWidth() == w && img.getHeight() == h) return img;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.drawImage(img, 0, 0, w, h, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** A1111's {@code parse_generation_parameters}: the parameters text as a dict (prompt, negative, settings). */
    static ObjectNode parseParameters(String text) {
        ObjectNode out = JSON.createObjectNode();
        if (text == null || text.isEmpty()) return out;
        String[] lines = text.strip().split("\n");
        String last = lines[lines.length - 1];
        boolean hasSettings = lines.length > 1 && SETTING.matcher(last).find();
        int end = hasSettings ? lines.length - 1 : lines.length;
        StringBuilder prompt = new StringBuilder(), negative = new StringBuilder();
        boolean inNegative = false;
        for (int i = 0; i < end; i++) {
            String l = lines[i];
            if (l.startsWith("Negative prompt:")) {
                inNegative = true;
                l = l.substring("Negative prompt:".length()).strip();
            }
            StringBuilder b = inNegative ? negative : prompt;
            if (!b.isEmpty()) b.append('\n');
            b.append(l);
        }
        out.put("Prompt", prompt.toString());
        out.put("Negative prompt", negative.toString());
        if (hasSettings) {
            Matcher m = SETTING.matcher(last);
            while (m.find()) {
                String k = m.group(1).strip(), v = m.group(2).strip();
                if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) v = v.substring(1, v.length() - 1);
                Matcher size = Pattern.compile("^(\\d+)x(\\d+)$").matcher(v);
                if (size.matches()) {
                    out.put(k + "-1", Integer.parseInt(size.group(1)));
                    out.put(k + "-2", Integer.parseInt(size.group(2)));
                } else {
                    out.put(k, v);
                }
            }
        }
        return out;
    }

    private static final Pattern SETTING = Pattern.compile("\\s*([\\w ]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)");

    private static boolean neutral(JsonNode v) {
        return v == null || v.isNull() || (v.isBoolean() && !v.booleanValue()) || (v.isNumber() && (v.doubleValue() == 0 || v.doubleValue() == -1))
                || (v.isTextual() && (v.asText().isEmpty() || v.asText().equalsIgnoreCase("none"))) || (v.isContainerNode() && v.isEmpty());
    }

    private static String brief(JsonNode v) {
        String s = v.toString();
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    static String str(ObjectNode o, String k, String def) {
        JsonNode v = o.get(k);
        if (v == null || v.isNull()) return def;
        if (!v.isTextual()) throw HttpError.invalid(k + " must be a string, got " + brief(v));
        return v.asText();
    }

    static int integer(ObjectNode o, String k, int def) {
        JsonNode v = o.get(k);
        if (v == null || v.isNull()) return def;
        long l = longValue(o, k);
        if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) throw HttpError.invalid(k + " is out of range: " + l);
        return (int) l;
    }

    static long longValue(ObjectNode o, String k) {
        JsonNode v = o.get(k);
        if (v.isIntegralNumber() && v.canConvertToLong()) return v.longValue();
        if (v.isFloatingPointNumber() && v.doubleValue() == Math.rint(v.doubleValue()) && Math.abs(v.doubleValue()) < 9e18) return (long) v.doubleValue();
        if (v.isTextual()) {
            try {
                return Long.parseLong(v.asText().strip());
            } catch (NumberFormatException ignored) { /* below */ }
        }
        throw HttpError.invalid(k + " must be an integer, got " + brief(v));
    }

    static float number(ObjectNode o, String k, float def) {
        JsonNode v = o.get(k);
        if (v == null || v.isNull()) return def;
        double d;
        if (v.isNumber()) d = v.doubleValue();
        else if (v.isTextual()) {
            try {
                d = Double.parseDouble(v.asText().strip());
            } catch (NumberFormatException e) {
                throw HttpError.invalid(k + " must be a number, got " + brief(v));
            }
        } else throw HttpError.invalid(k + " must be a number, got " + brief(v));
        if (!Double.isFinite(d)) throw HttpError.invalid(k + " must be a finite number, got " + brief(v));
        return (float) d;
    }
}
