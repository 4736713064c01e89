// Sandbox view: renders what the bot posted, channel by channel, like a Discord client would.
// DOM is built with createElement/textContent only.
"use strict";

(() => {
  const POLL_MS = 2000;
  const state = { meta: null, channel: null, metaJson: "", messagesJson: "" };

  // -- small helpers ------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status} ${url}`);
    return response.json();
  }

  function isLocalImage(url) {
    return typeof url === "string" && (url.startsWith("/sandbox/attachments/") || url.startsWith("data:image/"));
  }

  function safeHref(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function link(text, href) {
    const safe = safeHref(href);
    if (!safe) return el("span", null, text);
    const a = el("a", null, text);
    a.href = safe;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function image(url, alt, className) {
    if (!isLocalImage(url)) {
      const note = el("div", "missing-image", `image not shown: ${url}`);
      note.title = "The sandbox only displays uploaded attachments";
      return note;
    }
    const img = el("img", className);
    img.src = url;
    img.alt = alt || "";
    img.loading = "lazy";
    return img;
  }

  function colorHex(value) {
    return "#" + Number(value).toString(16).padStart(6, "0");
  }

  function avatarColor(id) {
    const palette = ["#5865f2", "#3ba55c", "#faa61a", "#ed4245", "#eb459e", "#747f8d"];
    let hash = 0;
    for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return palette[hash % palette.length];
  }

  function formatTime(date, style) {
    const opts = {
      t: { hour: "2-digit", minute: "2-digit" },
      T: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
      d: { year: "numeric", month: "2-digit", day: "2-digit" },
      D: { year: "numeric", month: "long", day: "numeric" },
      f: { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" },
      F: { weekday: "long", year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" },
    };
    if (style === "R") {
      const seconds = Math.round((date.getTime() - Date.now()) / 1000);
      const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
      const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
      for (const [unit, size] of units) {
        if (Math.abs(seconds) >= size || unit === "second") return fmt.format(Math.round(seconds / size), unit);
      }
    }
    return date.toLocaleString(undefined, opts[style] || opts.f);
  }

  // -- markdown (Discord's subset) -------------------------------------------------------

  const INLINE = new RegExp(
    [
      "(`+)([\\s\\S]*?[^`])\\1(?!`)", // 1,2 inline code
      "\\*\\*([\\s\\S]+?)\\*\\*", // 3 bold
      "__([\\s\\S]+?)__", // 4 underline
      "\\*([^\\s*][\\s\\S]*?)\\*", // 5 italic
      "\\b_([^\\s_][\\s\\S]*?)_\\b", // 6 italic
      "~~([\\s\\S]+?)~~", // 7 strike
      "\\|\\|([\\s\\S]+?)\\|\\|", // 8 spoiler
      "\\[([^\\]]+)\\]\\((https?:\\/\\/[^\\s)]+)\\)", // 9,10 masked link
      "<t:(-?\\d+)(?::([tTdDfFR]))?>", // 11,12 timestamp
      "<@!?(\\d+)>", // 13 user mention
      "<@&(\\d+)>", // 14 role mention
      "<#(\\d+)>", // 15 channel mention
      "(https?:\\/\\/[^\\s<]+[^<.,:;\"')\\]\\s])", // 16 bare url
    ].join("|"),
    "g",
  );

  function inline(text, parent) {
    // a fresh RegExp per call: inlineToken() recurses, and a shared /g regex would lose its place
    const pattern = new RegExp(INLINE.source, "g");
    let last = 0;
    let m;
    while ((m = pattern.exec(text)) !== null) {
      if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
      last = m.index + m[0].length;
      if (m[0].length === 0) pattern.lastIndex += 1;
      parent.append(inlineToken(m));
    }
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  function wrap(tag, className, inner) {
    const node = el(tag, className);
    inline(inner, node);
    return node;
  }

  function inlineToken(m) {
    const meta = state.meta || { users: {}, roles: {}, channel_names: {} };
    if (m[2] !== undefined) return el("code", null, m[2]);
    if (m[3] !== undefined) return wrap("strong", null, m[3]);
    if (m[4] !== undefined) return wrap("u", null, m[4]);
    if (m[5] !== undefined) return wrap("em", null, m[5]);
    if (m[6] !== undefined) return wrap("em", null, m[6]);
    if (m[7] !== undefined) return wrap("s", null, m[7]);
    if (m[8] !== undefined) {
      const spoiler = wrap("span", "spoiler", m[8]);
      spoiler.addEventListener("click", () => spoiler.classList.add("revealed"));
      return spoiler;
    }
    if (m[9] !== undefined) return link(m[9], m[10]);
    if (m[11] !== undefined) {
      const date = new Date(Number(m[11]) * 1000);
      const node = el("span", "md-time", formatTime(date, m[12] || "f"));
      node.title = date.toString();
      return node;
    }
    if (m[13] !== undefined) return el("span", "mention", "@" + (meta.users[m[13]] || "unknown-user"));
    if (m[14] !== undefined) {
      const role = meta.roles[m[14]];
      const node = el("span", "mention", "@" + (role ? role.name : "unknown-role"));
      if (role && role.color) node.style.color = colorHex(role.color);
      return node;
    }
    if (m[15] !== undefined) return el("span", "mention", "#" + (meta.channel_names[m[15]] || "unknown"));
    return link(m[16], m[16]);
  }

  function markdown(text, parent) {
    const source = String(text || "");
    const fence = /```(?:([\w+-]+)\n)?([\s\S]*?)```/g;
    let last = 0;
    let m;
    while ((m = fence.exec(source)) !== null) {
      if (m.index > last) lines(source.slice(last, m.index), parent);
      parent.append(el("pre", "codeblock", m[2].replace(/^\n/, "")));
      last = fence.lastIndex;
    }
    if (last < source.length) lines(source.slice(last), parent);
  }

  function lines(text, parent) {
    const rows = text.split("\n");
    rows.forEach((row, index) => {
      let node = null;
      let rest = row;
      const heading = /^(#{1,3}) (.*)$/.exec(row);
      if (heading) {
        node = el("div", `md-h${heading[1].length}`);
        rest = heading[2];
      } else if (row.startsWith("-# ")) {
        node = el("div", "md-sub");
        rest = row.slice(3);
      } else if (row.startsWith("> ")) {
        node = el("blockquote");
        rest = row.slice(2);
      } else if (/^\s*[-*] /.test(row)) {
        node = el("div", "md-li");
        rest = row.replace(/^\s*[-*] /, "");
      }
      if (node) {
        inline(rest, node);
        parent.append(node);
      } else {
        inline(row, parent);
        if (index < rows.length - 1) parent.append(document.createTextNode("\n"));
      }
    });
  }

  // -- embeds ------------------------------------------------------------------------------

  function fieldRows(fields) {
    // Discord puts up to three consecutive inline fields on one row.
    const placed = [];
    let row = [];
    const flush = () => {
      const span = 12 / row.length;
      row.forEach((field, i) => placed.push([field, i * span + 1, span]));
      row = [];
    };
    for (const field of fields) {
      if (field.inline) {
        row.push(field);
        if (row.length === 3) flush();
      } else {
        if (row.length) flush();
        row.push(field);
        flush();
      }
    }
    if (row.length) flush();
    return placed;
  }

  function renderEmbed(embed) {
    const box = el("div", "embed");
    if (typeof embed.color === "number") box.style.borderLeftColor = colorHex(embed.color);
    const main = el("div", "embed-main");
    box.append(main);
    if (embed.author && embed.author.name) {
      const author = el("div", "embed-author");
      if (embed.author.icon_url && isLocalImage(embed.author.icon_url)) author.append(image(embed.author.icon_url));
      author.append(link(embed.author.name, embed.author.url));
      main.append(author);
    }
    if (embed.title) {
      const title = el("div", "embed-title");
      if (safeHref(embed.url)) title.append(link(embed.title, embed.url));
      else inline(embed.title, title);
      main.append(title);
    }
    if (embed.description) {
      const description = el("div", "embed-description");
      markdown(embed.description, description);
      main.append(description);
    }
    if (Array.isArray(embed.fields) && embed.fields.length) {
      const grid = el("div", "embed-fields");
      for (const [field, start, span] of fieldRows(embed.fields)) {
        const cell = el("div", "embed-field");
        cell.style.gridColumn = `${start} / ${start + span}`;
        const name = el("div", "embed-field-name");
        inline(field.name || "", name);
        const value = el("div", "embed-field-value");
        markdown(field.value || "", value);
        cell.append(name, value);
        grid.append(cell);
      }
      main.append(grid);
    }
    if (embed.thumbnail && embed.thumbnail.url) {
      const thumb = el("div", "embed-thumbnail");
      thumb.append(image(embed.thumbnail.url, "thumbnail"));
      box.append(thumb);
    }
    if (embed.image && embed.image.url) {
      const holder = el("div", "embed-image");
      holder.append(image(embed.image.url, "embed image"));
      box.append(holder);
    }
    if ((embed.footer && embed.footer.text) || embed.timestamp) {
      const footer = el("div", "embed-footer");
      if (embed.footer && embed.footer.icon_url && isLocalImage(embed.footer.icon_url)) {
        footer.append(image(embed.footer.icon_url));
      }
      const parts = [];
      if (embed.footer && embed.footer.text) parts.push(embed.footer.text);
      if (embed.timestamp) parts.push(formatTime(new Date(embed.timestamp), "f"));
      footer.append(el("span", null, parts.join(" • ")));
      box.append(footer);
    }
    return box;
  }

  // -- components ------------------------------------------------------------------------------

  const BUTTON_STYLES = { 1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link", 6: "premium" };

  function renderButton(button) {
    const node = el("span", `btn ${BUTTON_STYLES[button.style] || "secondary"}`);
    if (button.disabled) node.classList.add("disabled");
    if (button.emoji && button.emoji.name) node.append(el("span", null, button.emoji.name));
    if (button.label) node.append(el("span", null, button.label));
    if (button.style === 5) node.append(el("span", null, "↗"));
    node.title = button.custom_id ? `custom_id: ${button.custom_id}` : button.url || "";
    return node;
  }

  function renderComponent(component) {
    switch (component.type) {
      case 1: {
        const row = el("div", "action-row");
        for (const child of component.components || []) row.append(renderComponent(child));
        return row;
      }
      case 2:
        return renderButton(component);
      case 3:
      case 5:
      case 6:
      case 7:
      case 8: {
        const select = el("div", "select");
        select.append(el("span", null, component.placeholder || "Make a selection"), el("span", null, "▾"));
        select.title = `custom_id: ${component.custom_id || ""}`;
        return select;
      }
      case 9: {
        const section = el("div", "section");
        const texts = el("div");
        for (const child of component.components || []) texts.append(renderComponent(child));
        section.append(texts);
        if (component.accessory) section.append(renderComponent(component.accessory));
        return section;
      }
      case 10: {
        const text = el("div", "content");
        markdown(component.content || "", text);
        return text;
      }
      case 11:
        return image((component.media || {}).url, component.description || "thumbnail", "thumbnail");
      case 12: {
        const gallery = el("div", "attachments");
        for (const item of component.items || []) gallery.append(image((item.media || {}).url, item.description));
        return gallery;
      }
      case 13:
        return el("div", "file", (component.file || {}).url || "file");
      case 14:
        return el("hr", "separator");
      case 17: {
        const box = el("div", "container");
        if (typeof component.accent_color === "number") box.style.borderLeftColor = colorHex(component.accent_color);
        for (const child of component.components || []) box.append(renderComponent(child));
        return box;
      }
      default:
        return el("div", "unknown-component", `[component type ${component.type}]`);
    }
  }

  // -- messages -----------------------------------------------------------------------------

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
  }

  function renderAttachment(attachment) {
    if (attachment.is_image) {
      const holder = el("div", "attachment-image");
      holder.append(image(attachment.url, attachment.description || attachment.filename));
      return holder;
    }
    const file = el("div", "file");
    file.append(el("span", "file-icon", "📄"));
    const info = el("div");
    const a = el("a", null, attachment.filename);
    a.href = attachment.url;
    a.download = attachment.filename;
    info.append(a, el("div", "file-size", formatSize(attachment.size)));
    file.append(info);
    return file;
  }

  function renderMessage(message) {
    const item = el("li", "message");
    if (message.ephemeral) item.classList.add("ephemeral");
    if (message.interaction) {
      const reply = el("div", "reply-line");
      reply.append(
        document.createTextNode(`↳ ${message.interaction.user} used `),
        el("span", "command", `/${message.interaction.name}`),
      );
      item.append(reply);
    }
    const avatar = el("div", "avatar", (message.author.name || "?").slice(0, 1).toUpperCase());
    avatar.style.background = avatarColor(message.author.id);
    item.append(avatar);

    const header = el("div", "msg-header");
    header.append(el("span", "author", message.author.name));
    if (message.author.bot) header.append(el("span", "app-tag", "APP"));
    const when = new Date(message.timestamp);
    const stamp = el("time", "timestamp", formatTime(when, "f"));
    stamp.dateTime = message.timestamp;
    header.append(stamp);
    item.append(header);

    if (message.loading) {
      item.append(el("div", "loading", `${message.author.name} is thinking…`));
    }
    if (message.content) {
      const content = el("div", "content");
      markdown(message.content, content);
      if (message.edited_timestamp) {
        const edited = el("span", "edited", "(edited)");
        edited.title = `${message.edit_count} edit(s), last ${new Date(message.edited_timestamp).toLocaleString()}`;
        content.append(edited);
      }
      item.append(content);
    } else if (message.edited_timestamp && !message.loading) {
      const edited = el("span", "edited", "(edited)");
      edited.title = `${message.edit_count} edit(s)`;
      item.append(edited);
    }
    if (message.attachments.length) {
      const list = el("div", "attachments");
      for (const attachment of message.attachments) list.append(renderAttachment(attachment));
      item.append(list);
    }
    if (!message.suppress_embeds) {
      for (const embed of message.embeds) item.append(renderEmbed(embed));
    }
    for (const component of message.components || []) item.append(renderComponent(component));
    if (message.reactions.length) {
      const reactions = el("div", "reactions");
      for (const reaction of message.reactions) reactions.append(el("span", "reaction", `${reaction.emoji} ${reaction.count}`));
      item.append(reactions);
    }
    if (message.ephemeral) item.append(el("div", "ephemeral-note", "👁 Only you can see this message"));
    return item;
  }

  // -- sidebar and polling --------------------------------------------------------------------

  function channelButton(channel, prefix) {
    const button = el("button", "channel");
    button.type = "button";
    if (channel.id === state.channel) button.classList.add("selected");
    button.append(el("span", "hash", prefix), el("span", null, channel.name));
    if (channel.message_count) button.append(el("span", "count", channel.message_count));
    button.addEventListener("click", () => {
      location.hash = `channel=${channel.id}`;
    });
    return button;
  }

  function renderSidebar() {
    const meta = state.meta;
    document.getElementById("bot-name").textContent = meta.bot.name;
    const list = document.getElementById("channel-list");
    const nodes = [];
    for (const guild of meta.guilds) {
      nodes.push(el("div", "guild-name", guild.name));
      for (const channel of guild.channels) nodes.push(channelButton(channel, channel.type === 2 ? "🔊" : "#"));
    }
    if (meta.dms.length) {
      nodes.push(el("div", "guild-name", "Direct messages"));
      for (const channel of meta.dms) nodes.push(channelButton(channel, "@"));
    }
    list.replaceChildren(...nodes);
  }

  function allChannels() {
    if (!state.meta) return [];
    return state.meta.guilds.flatMap((g) => g.channels).concat(state.meta.dms);
  }

  function readHash() {
    const m = /channel=(\d+)/.exec(location.hash);
    return m ? m[1] : null;
  }

  function pickDefaultChannel() {
    const channels = allChannels();
    const busy = channels.find((c) => c.message_count > 0);
    const chosen = busy || channels[0];
    if (chosen) state.channel = chosen.id;
  }

  function renderMessages(data) {
    const list = document.getElementById("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    document.getElementById("channel-title").textContent = data.channel.name || "direct message";
    if (!data.messages.length) {
      list.replaceChildren(el("li", "empty", "No messages yet. Whatever the bot posts here shows up within 2 seconds."));
    } else {
      list.replaceChildren(...data.messages.map(renderMessage));
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function setStatus(text, offline) {
    const status = document.getElementById("status");
    status.textContent = text;
    status.classList.toggle("offline", Boolean(offline));
  }

  async function refresh() {
    const meta = await getJson("/sandbox/api/channels");
    const metaJson = JSON.stringify(meta);
    state.channel = readHash() || state.channel;
    if (!state.channel) {
      state.meta = meta;
      pickDefaultChannel();
    }
    if (metaJson !== state.metaJson || state.renderedChannel !== state.channel) {
      state.meta = meta;
      state.metaJson = metaJson;
      renderSidebar();
    }
    if (!state.channel) return;
    const data = await getJson(`/sandbox/api/messages?channel=${encodeURIComponent(state.channel)}`);
    const json = JSON.stringify(data);
    if (json !== state.messagesJson || state.renderedChannel !== state.channel) {
      state.messagesJson = json;
      state.renderedChannel = state.channel;
      renderMessages(data);
    }
  }

  async function tick() {
    try {
      await refresh();
      setStatus(`live · refreshed ${new Date().toLocaleTimeString()}`, false);
    } catch (error) {
      setStatus(`emulator unreachable (${error.message})`, true);
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }

  window.addEventListener("hashchange", () => {
    state.channel = readHash();
    refresh().catch((error) => setStatus(`emulator unreachable (${error.message})`, true));
  });
  tick();
})();
