package intactkv.figure;

import intactkv.model.io.AtomicFiles;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import org.w3c.dom.Node;

/**
 * PNG files with text metadata, written atomically ({@link AtomicFiles}): each entry becomes a
 * {@code tEXt} chunk (keyword and Latin-1 value, what image viewers and {@code exiftool} show),
 * or an {@code iTXt} chunk (UTF-8) when the value holds characters outside Latin-1, such as a
 * non-English {@code --text}. Keywords are 1-79 Latin-1 characters (PNG specification 11.3.4).
 */
public final class Png {
    private static final String FORMAT = "javax_imageio_png_1.0";

    private Png() {
    }

    /** Writes {@code image} as {@code file} with the {@code text} entries (keyword to value, in order). */
    public static void write(Path file, BufferedImage image, Map<String, String> text) throws IOException {
        for (String k : text.keySet()) {
            if (k.isEmpty() || k.length() > 79 || !latin1(k) || k.startsWith(" ") || k.endsWith(" ")) {
                throw new IllegalArgumentException("PNG text keyword must be 1-79 Latin-1 characters without"
                        + " leading or trailing spaces: '" + k + "'");
            }
        }
        AtomicFiles.write(file, out -> {
            ImageWriter w = ImageIO.getImageWritersByFormatName("png").next();
            try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
                ImageWriteParam p = w.getDefaultWriteParam();
                IIOMetadata md = w.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image), p);
                IIOMetadataNode root = new IIOMetadataNode(FORMAT);
                IIOMetadataNode latin = new IIOMetadataNode("tEXt");
                IIOMetadataNode utf8 = new IIOMetadataNode("iTXt");
                for (Map.Entry<String, String> e : text.entrySet()) {
                    if (latin1(e.getValue())) {
                        IIOMetadataNode n = new IIOMetadataNode("tEXtEntry");
                        n.setAttribute("keyword", e.getKey());
                        n.setAttribute("value", e.getValue());
                        latin.appendChild(n);
                    } else {
                        IIOMetadataNode n = new IIOMetadataNode("iTXtEntry");
                        n.setAttribute("keyword", e.getKey());
                        n.setAttribute("compressionFlag", "FALSE");
                        n.setAttribute("compressionMethod", "0");
                        n.setAttribute("languageTag", "");
                        n.setAttribute("translatedKeyword", "");
                        n.setAttribute("text", e.getValue());
                        utf8.appendChild(n);
                    }
                }
                if (latin.hasChildNodes()) {
                    root.appendChild(latin);
                }
                if (utf8.hasChildNodes()) {
                    root.appendChild(utf8);
                }
                md.mergeTree(FORMAT, root);
                w.setOutput(ios);
                w.write(null, new IIOImage(image, null, md), p);
            } finally {
                w.dispose();
            }
        });
    }

    /** The text entries (tEXt and iTXt) of a PNG file, keyword to value. */
    public static Map<String, String> readText(Path file) throws IOException {
        Map<String, String> text = new LinkedHashMap<>();
        try (InputStream in = Files.newInputStream(file); ImageInputStream iis = ImageIO.createImageInputStream(in)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(iis);
            if (!readers.hasNext()) {
                throw new IOException(file + " is not an image ImageIO can read");
            }
            ImageReader r = readers.next();
            try {
                r.setInput(iis);
                Node root = r.getImageMetadata(0).getAsTree(FORMAT);
                for (Node chunk = root.getFirstChild(); chunk != null; chunk = chunk.getNextSibling()) {
                    boolean plain = chunk.getNodeName().equals("tEXt");
                    if (!plain && !chunk.getNodeName().equals("iTXt")) {
                        continue;
                    }
                    for (Node e = chunk.getFirstChild(); e != null; e = e.getNextSibling()) {
                        IIOMetadataNode n = (IIOMetadataNode) e;
                        text.put(n.getAttribute("keyword"), n.getAttribute(plain ? "value" : "text"));
                    }
                }
            } finally {
                r.dispose();
            }
        }
        return text;
    }

    private static boolean latin1(String s) {
        return s.chars().allMatch(c -> c <= 0xFF);
    }
}
